// Tubegate's page: login, the console (xterm.js over the Go-Wasm SSH
// client) and forwards. No inline scripts: the CSP forbids them.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { csrf: '', user: '', wasm: null, term: null, fit: null, console: null, poll: 0, attempt: 0, refused: 0 };
  const KNOWN_HOSTS = 'tubegate.knownHosts';
  const TERM_FONT = '"JetBrains Mono"';

  // fontReady waits (briefly) for the terminal's font: xterm.js measures
  // its cells when it opens, and a font that arrives later would not fit them.
  async function fontReady() {
    if (!document.fonts) return;
    await Promise.race([
      Promise.all([document.fonts.load('14px ' + TERM_FONT), document.fonts.load('bold 14px ' + TERM_FONT)]).catch(() => {}),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
  }

  function show(id, on) { $(id).hidden = !on; }
  function setError(id, msg) { const el = $(id); el.textContent = msg || ''; el.hidden = !msg; }

  const api = (method, path, body) => window.tubegateAPI(method, path, body, state.csrf);

  // --- login -------------------------------------------------------------

  function loggedIn(s) {
    state.csrf = s.csrf;
    state.user = s.user;
    $('user-name').textContent = s.user;
    show('whoami', true);
    show('login', false);
    show('app', true);
    document.body.dataset.user = s.user;
  }

  function loggedOut(msg) {
    state.csrf = '';
    state.user = '';
    delete document.body.dataset.user;
    show('whoami', false);
    show('app', false);
    show('login', true);
    setError('login-error', msg);
  }

  async function boot() {
    if (location.pathname === '/login/first') {
      const token = location.hash.slice(1) || new URLSearchParams(location.search).get('token') || '';
      history.replaceState(null, '', '/');
      try {
        loggedIn(await api('POST', '/api/login/first', { token }));
        return;
      } catch (e) {
        loggedOut(e.message);
        return;
      }
    }
    try {
      loggedIn(await api('GET', '/api/session'));
    } catch (e) {
      loggedOut(e.status === 401 ? '' : e.message);
    }
  }

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('login-error', '');
    $('login-submit').disabled = true;
    try {
      loggedIn(await api('POST', '/api/login', { user: $('login-user').value, password: $('login-password').value }));
      $('login-password').value = '';
    } catch (e) {
      setError('login-error', e.message);
    } finally {
      $('login-submit').disabled = false;
    }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } catch (e) { /* the cookie may be gone already */ }
    if (state.wasm) state.wasm.disconnect();
    if (state.console) state.console.close();
    loggedOut('');
  });

  // --- the Wasm client -----------------------------------------------------

  async function wasm() {
    if (state.wasm) return state.wasm;
    const url = document.querySelector('meta[name="tubegate-wasm"]').content;
    const go = new Go();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
    go.run(instance).then(() => { state.wasm = null; setError('page-error', 'the SSH client stopped; reload the page'); });
    state.wasm = globalThis.tubegate;
    return state.wasm;
  }

  function tubeURL() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ssh';
  }

  // --- host keys: trust on first use, remembered in this browser ----------

  function knownHosts() {
    try { return JSON.parse(localStorage.getItem(KNOWN_HOSTS) || '{}'); } catch (e) { return {}; }
  }

  function checkHostKey(info) {
    const known = knownHosts();
    const id = info.host + ' ' + info.type;
    if (known[id] === info.fingerprint) return Promise.resolve(true);
    const other = Object.keys(known).find((k) => k.startsWith(info.host + ' '));
    if (known[id] || other) {
      const old = known[id] ? `${info.type} ${known[id]}` : `${other.split(' ')[1]} ${known[other]}`;
      $('hostkey-changed-host').textContent = info.host;
      $('hostkey-old').textContent = old;
      $('hostkey-new').textContent = `${info.type} ${info.fingerprint}`;
      $('hostkey-forget').onclick = () => {
        const k = knownHosts();
        for (const key of Object.keys(k)) if (key.startsWith(info.host + ' ')) delete k[key];
        localStorage.setItem(KNOWN_HOSTS, JSON.stringify(k));
        show('hostkey-changed-panel', false);
      };
      show('hostkey-changed-panel', true);
      return Promise.reject(new Error(`the host key of ${info.host} has changed (remembered ${old}, offered ${info.type} ${info.fingerprint}): refused`));
    }
    $('hostkey-host').textContent = info.host;
    $('hostkey-type').textContent = info.type;
    $('hostkey-fingerprint').textContent = info.fingerprint;
    show('hostkey-new-panel', true);
    $('hostkey-accept').focus();
    return new Promise((resolve) => {
      const done = (ok) => {
        $('hostkey-new-panel').onkeydown = null;
        show('hostkey-new-panel', false);
        if (ok) {
          const k = knownHosts();
          k[id] = info.fingerprint;
          localStorage.setItem(KNOWN_HOSTS, JSON.stringify(k));
        }
        resolve(ok);
      };
      $('hostkey-accept').onclick = () => done(true);
      $('hostkey-reject').onclick = () => done(false);
      $('hostkey-new-panel').onkeydown = (ev) => {
        if (ev.key === 'Escape') { ev.preventDefault(); done(false); }
      };
    });
  }

  // --- keyboard-interactive ------------------------------------------------

  function prompt(info) {
    $('kbd-instruction').textContent = [info.name, info.instruction].filter(Boolean).join(': ');
    const box = $('kbd-questions');
    box.replaceChildren();
    const inputs = info.questions.map((q, i) => {
      const label = document.createElement('label');
      label.textContent = q.prompt;
      const input = document.createElement('input');
      input.type = q.echo ? 'text' : 'password';
      input.id = 'kbd-answer-' + i;
      input.autocomplete = 'off';
      label.append(input);
      box.append(label);
      return input;
    });
    show('kbd-panel', true);
    if (inputs[0]) inputs[0].focus();
    return new Promise((resolve, reject) => {
      $('kbd-panel').onsubmit = (ev) => { ev.preventDefault(); show('kbd-panel', false); resolve(inputs.map((i) => i.value)); };
      $('kbd-cancel').onclick = () => { show('kbd-panel', false); reject(new Error('login cancelled')); };
    });
  }

  // --- console ---------------------------------------------------------------

  function terminal() {
    if (state.term) return state.term;
    show('terminal-box', true);
    // The bundled JetBrains Mono: the system's default monospace font at
    // 14 px drew underscores below the row, where they were clipped.
    const term = new Terminal({ cursorBlink: true, scrollback: 5000, fontFamily: TERM_FONT + ', ui-monospace, monospace', fontSize: 14 });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($('terminal'));
    fit.fit();
    const size = () => { $('terminal-size').textContent = `${term.cols}x${term.rows}`; };
    size();
    term.onResize(({ cols, rows }) => {
      size();
      if (state.console) state.console.resize(cols, rows);
    });
    const enc = new TextEncoder();
    term.onData((d) => { if (state.console) state.console.write(enc.encode(d)); });
    term.onBinary((d) => { if (state.console) state.console.write(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)); });
    new ResizeObserver(() => fit.fit()).observe($('terminal'));
    state.term = term;
    state.fit = fit;
    return term;
  }

  $('console-key-file').addEventListener('change', async (ev) => {
    const f = ev.target.files[0];
    if (f) $('console-key').value = await f.text();
    ev.target.value = '';
  });

  // setStatus shows msg, and the raw detail one click away.
  function setStatus(msg, isError, detail) {
    const el = $('console-status');
    const text = document.createElement('span');
    text.id = 'console-status-text';
    text.textContent = msg;
    el.replaceChildren(text);
    if (detail && detail !== msg) {
      const box = document.createElement('details');
      box.id = 'console-status-detail';
      const sum = document.createElement('summary');
      sum.textContent = 'Details';
      const code = document.createElement('code');
      code.textContent = detail;
      box.append(sum, code);
      el.append(box);
    }
    el.classList.toggle('error', !!isError);
  }

  // clearSecrets empties the password and the key's passphrase once
  // used; the key too after a login, unless the person asked to keep it
  // (after a failed one it stays, to try again with the right passphrase).
  function clearSecrets(loggedIn) {
    $('console-password').value = '';
    $('console-passphrase').value = '';
    if (loggedIn && !$('console-key-keep').checked) $('console-key').value = '';
  }

  $('console-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    // Each attempt supersedes the last: a console it replaces closes
    // without its close reason overwriting this attempt's status.
    const attempt = ++state.attempt;
    show('hostkey-changed-panel', false);
    setError('console-password-error', '');
    $('console-connect').disabled = true;
    setStatus('connecting…');
    const target = $('console-target').value.trim();
    const user = $('console-user').value.trim();
    try {
      const tg = await wasm();
      await fontReady();
      const term = terminal();
      if (state.console) { state.console.close(); state.console = null; }
      term.reset();
      let con = null;
      con = await tg.openConsole({
        url: tubeURL(),
        target,
        user,
        password: $('console-password').value,
        key: $('console-key').value,
        passphrase: $('console-passphrase').value,
        locale: $('console-locale').value.trim(),
        cols: term.cols,
        rows: term.rows,
        hostKey: checkHostKey,
        prompt,
        onData: (bytes) => new Promise((resolve) => term.write(bytes, resolve)),
        onClose: (reason) => {
          if (state.files && state.files.con === con) { state.files.detach(); state.files = null; }
          if (state.console === con) state.console = null;
          if (attempt !== state.attempt) return;
          $('console-disconnect').hidden = true;
          document.body.dataset.console = 'closed';
          const exit = /exited with status (\d+)$/.exec(reason);
          if (exit) {
            setStatus(`Session ended (exit ${exit[1]})`, false); // a normal end, whatever the status
            return;
          }
          setStatus('disconnected: ' + window.tubegateExplain(reason, target, user).text, true, reason);
        },
      });
      if (attempt !== state.attempt) { con.close(); return; }
      state.console = con;
      if (state.files) state.files.detach();
      state.files = Object.assign(window.tubegateFiles.attach({ console: con, target, button: $('console-files'),
        dropTarget: $('terminal'), container: $('files-box') }), { con }); // the file panel (files.js)
      clearSecrets(true);
      setStatus('connected to ' + target);
      document.body.dataset.console = 'open';
      $('console-disconnect').hidden = false;
      term.focus();
      startPolling();
    } catch (e) {
      if (attempt !== state.attempt) return;
      clearSecrets(false);
      const why = window.tubegateExplain(e.message, target, user);
      if (why.field) setError(why.field, why.text);
      setStatus('not connected: ' + why.text, true, e.message);
      document.body.dataset.console = 'failed';
    } finally {
      $('console-connect').disabled = false;
    }
  });

  $('console-disconnect').addEventListener('click', () => { if (state.console) state.console.close(); });

  // --- forwards --------------------------------------------------------------

  function fmtBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  function cell(row, text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    row.append(td);
    return td;
  }

  function renderForwards() {
    if (!state.wasm) return;
    const list = state.wasm.forwards();
    const body = $('forwards');
    const seen = new Set();
    for (const f of list) {
      seen.add(f.id);
      let row = body.querySelector(`tr[data-id="${f.id}"]`);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.id = f.id;
        row.dataset.endpoint = f.endpoint;
        cell(row, f.spec, 'spec');
        cell(row, f.listen, 'listen');
        cell(row, f.target, 'target');
        cell(row, '', 'conns');
        cell(row, '', 'bytes');
        const actions = cell(row, '', 'actions');
        if (f.kind === 'L') {
          const share = document.createElement('button');
          share.type = 'button';
          share.className = 'share-link';
          share.textContent = 'Share link';
          share.onclick = () => shareLink(row, f.endpoint);
          actions.append(share);
        }
        const rm = document.createElement('button');
        rm.type = 'button';
        rm.className = 'forward-remove';
        rm.id = 'forward-remove-' + f.id;
        rm.textContent = 'Remove';
        rm.onclick = async () => {
          try { await state.wasm.removeForward(f.id); } catch (e) { setError('forward-error', e.message); }
          renderForwards();
        };
        actions.append(rm);
        const out = document.createElement('span');
        out.className = 'share-url';
        actions.append(out);
        body.append(row);
      }
      row.querySelector('.conns').textContent = `${f.active} open, ${f.total} total` + (f.lastError ? ` (last error: ${f.lastError})` : '');
      row.querySelector('.bytes').textContent = `${fmtBytes(f.bytesIn)} / ${fmtBytes(f.bytesOut)}`;
      row.dataset.active = f.active;
      row.dataset.total = f.total;
    }
    for (const row of [...body.children]) if (!row.dataset.refused && !seen.has(row.dataset.id)) row.remove();
  }

  // refusedRow keeps a forward that was refused in the table, with the
  // reason, until the person dismisses it.
  function refusedRow(spec, reason) {
    const row = document.createElement('tr');
    row.className = 'refused';
    row.dataset.refused = 'true';
    row.dataset.id = 'refused-' + (++state.refused);
    cell(row, spec, 'spec');
    const why = cell(row, 'refused: ' + reason, 'reason');
    why.colSpan = 4;
    const actions = cell(row, '', 'actions');
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'forward-dismiss';
    rm.textContent = 'Dismiss';
    rm.onclick = () => row.remove();
    actions.append(rm);
    $('forwards').append(row);
  }

  async function shareLink(row, endpoint) {
    const out = row.querySelector('.share-url');
    out.classList.remove('error');
    out.textContent = 'making a link…';
    try {
      const link = await api('POST', '/api/links', { endpoint, expires: '2h' });
      out.textContent = link.url;
      row.dataset.linkId = link.id;
      document.dispatchEvent(new CustomEvent('tubegate:link-created', { detail: link }));
      try { await navigator.clipboard.writeText(link.url); out.title = 'copied'; } catch (e) { /* not allowed here */ }
    } catch (e) {
      out.classList.add('error');
      out.textContent = 'share link: ' + e.message;
    }
  }

  function startPolling() {
    if (state.poll) return;
    state.poll = setInterval(renderForwards, 1000);
  }

  $('forward-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('forward-error', '');
    $('forward-add').disabled = true;
    try {
      const tg = await wasm();
      await tg.addForward($('forward-spec').value);
      $('forward-spec').value = '';
      renderForwards();
    } catch (e) {
      setError('forward-error', e.message);
      const spec = $('forward-spec').value.trim();
      if (spec) refusedRow(spec, e.message);
    } finally {
      $('forward-add').disabled = false;
    }
  });

  boot();
})();
