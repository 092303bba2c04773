// Tubegate's page: consoles in tabs. Each tab is its own host connection
// (over the page's one tube, through the Go-Wasm SSH client) with its own
// terminal, state (connecting, open, reconnecting, closed: why) and
// forwards. The tab shown owns the stable ids of the interface contract:
// #terminal, #terminal-size, #console-status (#console-status-text,
// #console-status-detail) and body[data-console].
'use strict';

(() => {
  const TG = window.TG;
  const { $, el, show, setError } = TG;
  const TERM_FONT = '"JetBrains Mono"';
  const tabs = [];
  let active = null;
  let seq = 0;
  let client = null;

  // --- the Wasm client -----------------------------------------------------

  TG.wasm = async () => {
    if (client) return client;
    const url = document.querySelector('meta[name="tubegate-wasm"]').content;
    const go = new Go();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
    go.run(instance).then(() => { client = null; setError('page-error', 'the SSH client stopped; reload the page'); });
    client = globalThis.tubegate;
    return client;
  };
  TG.wasmLoaded = () => client;
  const tubeURL = () => (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ssh';

  // fontReady waits (briefly) for the terminal's font: xterm.js measures
  // its cells when it opens, and a font that arrives later would not fit them.
  async function fontReady() {
    if (!document.fonts) return;
    await Promise.race([
      Promise.all([document.fonts.load('14px ' + TERM_FONT), document.fonts.load('bold 14px ' + TERM_FONT)]).catch(() => {}),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
  }

  // --- WebGL, where it helps -------------------------------------------------

  let webglScript = null;
  // webglUsable: a WebGL2 context on real hardware; a software one
  // (SwiftShader, llvmpipe) is slower than the DOM renderer.
  let webglOK = null;
  function webglUsable() {
    if (webglOK === null) webglOK = probeWebGL();
    return webglOK;
  }
  function probeWebGL() {
    try {
      const gl = document.createElement('canvas').getContext('webgl2');
      if (!gl) return false;
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
      const ok = !/swiftshader|llvmpipe|software/i.test(name);
      const lose = gl.getExtension('WEBGL_lose_context');
      if (lose) lose.loseContext();
      return ok;
    } catch (e) { return false; }
  }
  function loadWebGL() {
    if (!webglScript) {
      webglScript = new Promise((resolve, reject) => {
        const s = el('script', { src: document.querySelector('meta[name="tubegate-webgl"]').content });
        s.onload = resolve;
        s.onerror = reject;
        document.head.append(s);
      });
    }
    return webglScript;
  }
  async function renderer(tab) {
    tab.termEl.dataset.renderer = 'dom';
    if (TG.settings.get().renderer !== 'auto' || !webglUsable()) return;
    try {
      await loadWebGL();
      const gl = new WebglAddon.WebglAddon();
      gl.onContextLoss(() => { gl.dispose(); tab.termEl.dataset.renderer = 'dom'; });
      tab.term.loadAddon(gl);
      tab.termEl.dataset.renderer = 'webgl';
    } catch (e) { /* the DOM renderer stays */ }
  }

  // --- tabs ------------------------------------------------------------------

  const label = (tab) => tab.target + (tab.user ? ' as ' + tab.user : '');
  const stateWords = { connecting: 'connecting', open: 'open', reconnecting: 'reconnecting', closed: 'closed', failed: 'failed' };

  function newTab(target, user) {
    const n = ++seq;
    const tab = { n, target, user, state: 'connecting', cid: '', con: null, unread: false, ctrl: false };
    tab.button = el('button', { type: 'button', role: 'tab', class: 'console-tab', id: 'console-tab-' + n,
      'aria-controls': 'console-panel-' + n, onclick: () => activate(tab) });
    tab.button.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(tab);
      if (ev.key === 'ArrowRight' && tabs[i + 1]) { activate(tabs[i + 1]); tabs[i + 1].button.focus(); }
      if (ev.key === 'ArrowLeft' && tabs[i - 1]) { activate(tabs[i - 1]); tabs[i - 1].button.focus(); }
    });
    tab.stateEl = el('span', { class: 'console-state' });
    tab.reconnect = el('button', { type: 'button', class: 'console-reconnect', text: 'Reconnect', hidden: true, onclick: () => reconnect(tab) });
    tab.close = el('button', { type: 'button', class: 'console-close', text: 'Close', onclick: () => askClose(tab) });
    tab.confirm = el('span', { class: 'console-close-confirm', hidden: true },
      el('span', { text: 'The session is still running. Close it? ' }),
      el('button', { type: 'button', class: 'console-close-yes', text: 'Close the session', onclick: () => closeTab(tab) }),
      el('button', { type: 'button', class: 'console-close-no', text: 'Keep it', onclick: () => { tab.confirm.hidden = true; } }));
    tab.searchBox = el('input', { type: 'search', class: 'console-search', placeholder: 'Search (Enter, Shift+Enter)', 'aria-label': 'Search the terminal', hidden: true });
    tab.searchBox.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') { tab.searchBox.hidden = true; tab.term.focus(); return; }
      if (ev.key !== 'Enter') return;
      ev.preventDefault();
      const found = ev.shiftKey ? tab.search.findPrevious(tab.searchBox.value) : tab.search.findNext(tab.searchBox.value);
      tab.panel.dataset.searchFound = found ? 'yes' : 'no';
    });
    tab.filesSlot = el('span', { class: 'console-files' }); // the SFTP panel's button goes here
    tab.filesBox = el('div', { class: 'files-box' }); // and its panel here
    const full = el('button', { type: 'button', class: 'console-fullscreen', text: 'Full screen', onclick: () => fullscreen(tab) });
    const find = el('button', { type: 'button', class: 'console-find', text: 'Search', onclick: () => openSearch(tab) });
    tab.status = el('div', { class: 'console-status', role: 'status' });
    tab.termEl = el('div', { class: 'term-box' });
    tab.size = el('span', { class: 'terminal-size' });
    tab.keyrow = keyRow(tab);
    tab.panel = el('div', { role: 'tabpanel', class: 'console-panel', id: 'console-panel-' + n, 'aria-labelledby': 'console-tab-' + n, hidden: true },
      el('div', { class: 'console-toolbar' }, tab.stateEl, tab.reconnect, find, tab.searchBox, tab.filesSlot, full, tab.close, tab.confirm),
      tab.status, tab.filesBox, tab.termEl, tab.keyrow,
      el('p', { class: 'hint' }, 'Terminal ', tab.size, ' · select to copy (or Ctrl+Shift+C), Ctrl+Shift+V or right click to paste, Ctrl+Shift+F to search'));
    $('console-tabs').append(tab.button);
    $('console-panels').append(tab.panel);
    tabs.push(tab);
    show('console-none', false);
    setState(tab, 'connecting');
    return tab;
  }

  // keyRow is the row of keys a phone's soft keyboard lacks. Ctrl is
  // sticky: it applies to the next key typed.
  function keyRow(tab) {
    const keys = [['Esc', '\x1b'], ['Tab', '\t'], ['Ctrl', null], ['↑', '\x1b[A'], ['↓', '\x1b[B'], ['←', '\x1b[D'], ['→', '\x1b[C'], ['|', '|'], ['~', '~']];
    const names = { '↑': 'Up', '↓': 'Down', '←': 'Left', '→': 'Right', '|': 'Pipe', '~': 'Tilde' };
    const row = el('div', { class: 'keyrow', role: 'toolbar', 'aria-label': 'Extra keys' });
    for (const [text, seqOut] of keys) {
      const b = el('button', { type: 'button', text, 'aria-label': names[text] || text, 'data-key': names[text] || text });
      b.addEventListener('mousedown', (ev) => ev.preventDefault()); // keep the terminal's focus (and the keyboard up)
      b.addEventListener('click', () => {
        if (seqOut === null) {
          tab.ctrl = !tab.ctrl;
          b.setAttribute('aria-pressed', String(tab.ctrl));
        } else if (tab.con) {
          tab.con.write(new TextEncoder().encode(seqOut));
        }
        tab.term.focus();
      });
      if (seqOut === null) b.setAttribute('aria-pressed', 'false');
      row.append(b);
    }
    return row;
  }

  function setState(tab, state, text, isError, detail) {
    tab.state = state;
    tab.stateEl.textContent = stateWords[state] || state;
    tab.button.dataset.state = state;
    tab.panel.dataset.state = state;
    tab.button.textContent = label(tab) + ' · ' + (stateWords[state] || state);
    if (tab.unread) tab.button.append(el('span', { class: 'unread', text: ' •', 'aria-label': 'new output' }));
    tab.reconnect.hidden = !(state === 'closed' || state === 'failed');
    if (text !== undefined) setStatus(tab, text, isError, detail);
    if (tab === active) sync();
  }

  // setStatus shows msg in the tab, and the raw detail one click away.
  function setStatus(tab, msg, isError, detail) {
    const text = el('span', { class: 'console-status-text', text: msg });
    tab.status.replaceChildren(text);
    if (detail && detail !== msg) {
      tab.status.append(el('details', { class: 'console-status-detail' }, el('summary', { text: 'Details' }), el('code', { text: detail })));
    }
    tab.status.classList.toggle('error', !!isError);
    if (tab === active) sync();
  }

  // sync gives the tab shown the stable ids, and mirrors its state.
  function sync() {
    for (const id of ['terminal', 'terminal-size', 'console-status', 'console-status-text', 'console-status-detail', 'console-files', 'files-box']) {
      const e = document.getElementById(id);
      if (e) e.removeAttribute('id');
    }
    $('console-disconnect').hidden = !(active && active.state === 'open');
    $('forward-console').textContent = active ? label(active) : 'no console';
    show('console-none', tabs.length === 0);
    if (!active) { delete document.body.dataset.console; return; }
    active.termEl.id = 'terminal';
    active.size.id = 'terminal-size';
    active.status.id = 'console-status';
    const t = active.status.querySelector('.console-status-text');
    if (t) t.id = 'console-status-text';
    const d = active.status.querySelector('.console-status-detail');
    if (d) d.id = 'console-status-detail';
    active.filesBox.id = 'files-box';
    const fb = active.filesSlot.querySelector('button');
    if (fb) fb.id = 'console-files';
    document.body.dataset.console = active.state;
  }

  function activate(tab) {
    active = tab;
    for (const t of tabs) {
      t.panel.hidden = t !== tab;
      t.button.setAttribute('aria-selected', String(t === tab));
      t.button.tabIndex = t === tab ? 0 : -1;
    }
    tab.unread = false;
    setState(tab, tab.state);
    // In view: xterm.js does not draw a terminal that is off screen.
    tab.panel.scrollIntoView({ block: 'nearest' });
    if (tab.fit) requestAnimationFrame(() => tab.fit.fit());
  }

  // --- terminals -------------------------------------------------------------

  function terminal(tab) {
    const s = TG.settings.get();
    // The bundled JetBrains Mono: the system's default monospace font at
    // 14 px drew underscores below the row, where they were clipped.
    const term = new Terminal({ cursorBlink: true, scrollback: s.scrollback, fontSize: s.fontSize, allowProposedApi: true,
      fontFamily: TERM_FONT + ', ui-monospace, monospace', theme: TG.settings.termTheme() });
    tab.term = term;
    tab.fit = new FitAddon.FitAddon();
    tab.search = new SearchAddon.SearchAddon();
    term.loadAddon(tab.fit);
    term.loadAddon(tab.search);
    term.loadAddon(new WebLinksAddon.WebLinksAddon((ev, uri) => window.open(uri, '_blank', 'noopener')));
    term.loadAddon(new Unicode11Addon.Unicode11Addon());
    term.unicode.activeVersion = '11';
    term.open(tab.termEl);
    tab.termEl.style.background = TG.settings.termTheme().background;
    tab.fit.fit();
    tab.termEl.dataset.renderer = 'dom';
    // Chosen once the page is idle: probing WebGL can take a while, and the
    // DOM renderer draws the first prompt as well.
    setTimeout(() => renderer(tab), 500);
    const size = () => { tab.size.textContent = `${term.cols}x${term.rows}`; };
    size();
    term.onResize(({ cols, rows }) => { size(); if (tab.con) tab.con.resize(cols, rows); });
    const enc = new TextEncoder();
    term.onData((d) => {
      if (!tab.con) return;
      if (tab.ctrl && d.length === 1) { // the key row's sticky Ctrl
        d = String.fromCharCode(d.toUpperCase().charCodeAt(0) & 31);
        tab.ctrl = false;
        tab.keyrow.querySelector('[data-key="Ctrl"]').setAttribute('aria-pressed', 'false');
      }
      tab.con.write(enc.encode(d));
    });
    term.onBinary((d) => { if (tab.con) tab.con.write(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)); });
    term.onSelectionChange(() => {
      if (!TG.settings.get().copyOnSelect || !term.hasSelection()) return;
      const text = term.getSelection();
      navigator.clipboard.writeText(text).then(() => { tab.panel.dataset.copied = String(text.length); }, () => {});
    });
    term.attachCustomKeyEventHandler((ev) => keys(tab, ev));
    new ResizeObserver(() => { if (!tab.panel.hidden) tab.fit.fit(); }).observe(tab.termEl);
  }

  // keys takes the page's own shortcuts; everything else (Ctrl+W, Ctrl+T,
  // Ctrl+N included, where the browser lets the page have them) goes to
  // the shell.
  function keys(tab, ev) {
    if (ev.type !== 'keydown' || !ev.ctrlKey) return true;
    const k = ev.key;
    if (ev.shiftKey && (k === 'F' || k === 'f')) { ev.preventDefault(); openSearch(tab); return false; }
    if (ev.shiftKey && (k === 'C' || k === 'c')) {
      ev.preventDefault();
      if (tab.term.hasSelection()) navigator.clipboard.writeText(tab.term.getSelection()).catch(() => {});
      return false;
    }
    if (ev.shiftKey && (k === 'V' || k === 'v')) return false; // the browser pastes into the terminal
    if (k === '=' || k === '+' || k === '-' || k === '_') {
      ev.preventDefault();
      TG.settings.set({ fontSize: TG.settings.get().fontSize + (k === '-' || k === '_' ? -1 : 1) });
      return false;
    }
    return true;
  }

  function openSearch(tab) {
    tab.searchBox.hidden = false;
    tab.searchBox.focus();
    tab.searchBox.select();
  }

  // fullscreen shows the tab full screen and, where the browser has the
  // Keyboard Lock API (Chrome), asks for Ctrl+W, Ctrl+T and Ctrl+N.
  async function fullscreen(tab) {
    try {
      await tab.panel.requestFullscreen();
      if (navigator.keyboard && navigator.keyboard.lock) await navigator.keyboard.lock(['KeyW', 'KeyT', 'KeyN']);
    } catch (e) { /* not allowed here */ }
    tab.term.focus();
  }

  document.addEventListener('tubegate:settings', (ev) => {
    for (const tab of tabs) {
      if (!tab.term) continue;
      tab.term.options.fontSize = ev.detail.fontSize;
      tab.term.options.scrollback = ev.detail.scrollback;
      tab.term.options.theme = TG.settings.termTheme();
      tab.termEl.style.background = TG.settings.termTheme().background;
      if (!tab.panel.hidden) tab.fit.fit();
    }
  });

  // --- the file panel (files.js), one per open console ------------------------

  // attachFiles gives an open console its file panel: the Files button in
  // the tab's toolbar, files dropped on its terminal upload, the panel
  // shows above the terminal.
  function attachFiles(tab) {
    detachFiles(tab);
    if (!window.tubegateFiles || !tab.con) return;
    tab.files = window.tubegateFiles.attach({ console: tab.con, target: tab.target, button: tab.filesSlot,
      dropTarget: tab.termEl, container: tab.filesBox });
  }
  function detachFiles(tab) {
    if (!tab.files) return;
    tab.files.detach();
    tab.files = null;
  }

  // --- connect, close, reconnect ---------------------------------------------

  $('console-key-file').addEventListener('change', async (ev) => {
    const f = ev.target.files[0];
    if (f) $('console-key').value = await f.text();
    ev.target.value = '';
  });

  // clearSecrets empties the password and the key's passphrase once
  // used; the key too after a login, unless the person asked to keep it
  // (after a failed one it stays, to try again with the right passphrase).
  function clearSecrets(loggedIn) {
    $('console-password').value = '';
    $('console-passphrase').value = '';
    if (loggedIn && !$('console-key-keep').checked) $('console-key').value = '';
  }

  // A connect is a new tab; a closed or failed tab for the same target and
  // user is reused (Reconnect), keeping its scrollback.
  $('console-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    show('hostkey-changed-panel', false);
    setError('console-password-error', '');
    const target = $('console-target').value.trim();
    const user = $('console-user').value.trim();
    let tab = tabs.find((t) => t.target === target && t.user === user && (t.state === 'closed' || t.state === 'failed'));
    if (!tab) tab = newTab(target, user);
    const attempt = tab.attempt = (tab.attempt || 0) + 1;
    activate(tab);
    setState(tab, 'connecting', 'connecting…');
    await TG.busy($('console-connect'), async () => {
      try {
        const tg = await TG.wasm();
        await fontReady();
        if (!tab.term) terminal(tab);
        else tab.term.write('\r\n\x1b[2m--- reconnecting ---\x1b[0m\r\n');
        const term = tab.term;
        let con = null;
        con = await tg.openConsole({
          url: tubeURL(), target, user,
          password: $('console-password').value,
          key: $('console-key').value,
          passphrase: $('console-passphrase').value,
          locale: $('console-locale').value.trim(),
          cols: term.cols, rows: term.rows,
          hostKey: TG.checkHostKey,
          prompt: TG.prompt,
          onData: (bytes) => new Promise((resolve) => {
            if (tab !== active && !tab.unread) { tab.unread = true; setState(tab, tab.state); }
            term.write(bytes, resolve);
          }),
          onClose: (reason) => {
            if (tab.con === con) { tab.con = null; detachFiles(tab); }
            if (attempt !== tab.attempt || !tabs.includes(tab)) return;
            const exit = /exited with status (\d+)$/.exec(reason);
            if (exit) {
              setState(tab, 'closed', `Session ended (exit ${exit[1]})`, false); // a normal end, whatever the status
              return;
            }
            setState(tab, 'closed', 'disconnected: ' + window.tubegateExplain(reason, target, user).text, true, reason);
          },
        });
        if (attempt !== tab.attempt || !tabs.includes(tab)) { con.close(); return; }
        tab.con = con;
        tab.cid = con.id;
        clearSecrets(true);
        attachFiles(tab);
        TG.recordTarget && TG.recordTarget(target, user);
        setState(tab, 'open', 'connected to ' + target);
        tab.panel.scrollIntoView({ block: 'nearest' });
        term.focus();
        document.dispatchEvent(new CustomEvent('tubegate:console-open', { detail: { id: con.id } }));
      } catch (e) {
        if (attempt !== tab.attempt || !tabs.includes(tab)) return;
        clearSecrets(false);
        const why = window.tubegateExplain(e.message, target, user);
        if (why.field) setError(why.field, why.text);
        setState(tab, 'failed', 'not connected: ' + why.text, true, e.message);
      }
    });
  });

  $('console-disconnect').addEventListener('click', () => { if (active && active.con) active.con.close(); });

  // reconnect fills the form for the tab's target and user, and asks for
  // the password (or connects at once with a key kept in the form).
  function reconnect(tab) {
    $('console-target').value = tab.target;
    $('console-user').value = tab.user;
    if ($('console-key').value) { $('console-form').requestSubmit(); return; }
    $('console-password').focus();
    setStatus(tab, 'Enter the password (or key) above, then Connect.', false);
  }

  // Closing asks only when something runs: an open session.
  function askClose(tab) {
    if (tab.state === 'open' || tab.state === 'reconnecting') { tab.confirm.hidden = false; tab.confirm.querySelector('button').focus(); return; }
    closeTab(tab);
  }

  function closeTab(tab) {
    const i = tabs.indexOf(tab);
    if (i < 0) return;
    tabs.splice(i, 1);
    tab.attempt = -1;
    detachFiles(tab);
    if (tab.con) tab.con.close();
    if (tab.cid && client) client.closeConsole(tab.cid);
    if (tab.term) tab.term.dispose();
    tab.button.remove();
    tab.panel.remove();
    active = null;
    if (tabs.length) activate(tabs[Math.min(i, tabs.length - 1)]); else sync();
    document.dispatchEvent(new CustomEvent('tubegate:console-closed'));
  }

  // Leaving the page with a console open or a forward up asks first.
  window.addEventListener('beforeunload', (ev) => {
    const forwards = client ? client.forwards().length : 0;
    if (!tabs.some((t) => t.state === 'open' || t.state === 'reconnecting') && !forwards) return;
    ev.preventDefault();
    ev.returnValue = '';
  });

  TG.consoles = {
    // list: every tab, oldest first; active: the tab shown.
    list: () => tabs.slice(),
    active: () => active,
    byId: (cid) => tabs.find((t) => t.cid === cid),
    label,
    // setState lets other parts (the tube's resume banner) mark a tab, e.g.
    // 'reconnecting' while the tube resumes, and 'open' again after.
    setState: (tab, state, text) => setState(tab, state, text),
    // closeAll ends every console (log out).
    closeAll: () => { for (const t of tabs.slice()) closeTab(t); if (client) client.disconnect(); },
  };
})();
