// Tubegate's page: "Hosts and services", what the user can reach, kept
// current by Server-Sent Events from /api/home/events; per endpoint:
// Console, Open (HTTP, through a login-required link), Share link, Copy
// ssh command. Also the recent and saved targets (host, port, login user;
// never a secret), kept in this browser.
'use strict';

(() => {
  const TG = window.TG;
  const { $, el, store } = TG;
  const RECENT = 'tubegate.recentTargets';
  const SAVED = 'tubegate.savedTargets';
  let source = null;
  let last = null;
  let timer = 0;

  // --- recent and saved targets --------------------------------------------

  const clean = (t) => ({ target: String(t.target || ''), user: String(t.user || '') });
  const same = (a, b) => a.target === b.target && a.user === b.user;

  TG.recordTarget = (target, user) => {
    const t = clean({ target, user });
    const recent = store.get(RECENT, []).map(clean).filter((r) => !same(r, t));
    store.set(RECENT, [t, ...recent].slice(0, 8));
    renderTargets();
  };

  function saveTarget() {
    const t = clean({ target: $('console-target').value.trim(), user: $('console-user').value.trim() });
    if (!t.target) return;
    store.set(SAVED, [t, ...store.get(SAVED, []).map(clean).filter((r) => !same(r, t))].slice(0, 32));
    renderTargets();
    const b = $('console-save');
    b.textContent = 'Saved';
    setTimeout(() => { b.textContent = 'Save target'; }, 2000);
  }

  function useTarget(t) {
    $('console-target').value = t.target;
    $('console-user').value = t.user;
    $('console-form').scrollIntoView({ block: 'nearest' });
    (t.user ? $('console-password') : $('console-user')).focus();
  }

  function renderTargets() {
    const saved = store.get(SAVED, []).map(clean);
    const recent = store.get(RECENT, []).map(clean).filter((r) => !saved.some((s) => same(s, r)));
    const list = $('recent-targets');
    list.replaceChildren();
    const item = (t, kind) => {
      const name = t.user ? `${t.user}@${t.target}` : t.target;
      const li = el('li', { class: 'chip ' + kind, 'data-target': t.target, 'data-user': t.user },
        el('button', { type: 'button', class: 'target-use', text: name, 'aria-label': `Connect to ${name} (${kind})`, onclick: () => useTarget(t) }));
      if (kind === 'saved') {
        li.append(el('button', { type: 'button', class: 'target-forget', text: '×', 'aria-label': 'Forget ' + name, onclick: () => {
          store.set(SAVED, store.get(SAVED, []).map(clean).filter((r) => !same(r, t)));
          renderTargets();
        } }));
      }
      list.append(li);
    };
    saved.forEach((t) => item(t, 'saved'));
    recent.forEach((t) => item(t, 'recent'));
    $('recent-box').hidden = !saved.length && !recent.length;
  }

  // After a reload the last target is offered again, in the form.
  function offerLast() {
    const last = store.get(RECENT, []).map(clean)[0];
    if (last && !$('console-target').value) {
      $('console-target').value = last.target;
      $('console-user').value = last.user;
    }
  }

  // --- ssh commands ------------------------------------------------------------

  function gw(list) {
    const u = new URL(list.public_url || location.origin);
    const ws = (u.protocol === 'https:' ? 'wss://' : 'ws://') + u.host + '/ssh';
    return { host: u.hostname, ws, alias: 'gw' };
  }

  const q = (s) => /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;

  // sshCommands: the one-line ssh (ProxyCommand through gateway connect,
  // then the gateway as a jump host) and the ~/.ssh/config block for it.
  function sshCommands(list, e, login) {
    const g = gw(list);
    const who = login || 'LOGIN';
    const port = e.port === 22 ? '' : ` -p ${e.port}`;
    const line = `ssh -o ProxyCommand=${q(`ssh -o ProxyCommand='gateway connect ${g.ws}' -W %h:%p ${list.user}@${g.host}`)}${port} ${who}@${e.host}`;
    const alias = e.host.split('.')[0];
    const config = [
      `Host ${g.alias}`, `    HostName ${g.host}`, `    User ${list.user}`, `    ProxyCommand gateway connect ${g.ws}`,
      '', `Host ${alias}`, `    HostName ${e.host}`, `    Port ${e.port}`, `    User ${who}`, `    ProxyJump ${g.alias}`,
    ].join('\n');
    return { line, config, jump: `ssh -J ${g.alias}${port} ${who}@${e.host}` };
  }

  function emptyState(list) {
    const g = gw(list);
    const name = `myhost.${list.user}`;
    $('home-empty-ssh').replaceChildren(TG.copyLine(
      `ssh -o ProxyCommand='gateway connect ${g.ws}' -f -N -T -R ${name}:22:localhost:22 ${list.user}@${g.host}`, 'Copy the ssh -R command'));
    $('home-empty-tunnel').replaceChildren(TG.copyLine(
      `gateway tunnel -R ${name}:22:localhost:22 --user ${list.user} ${g.ws}`, 'Copy the gateway tunnel command'));
  }

  // --- the list ------------------------------------------------------------------

  function describe(e) {
    const bits = [];
    if (e.state === 'online') bits.push('online since ' + TG.ago(e.since));
    else if (e.state === 'offline') bits.push(e.since ? 'offline since ' + TG.ago(e.since) : 'offline (not seen yet)');
    else bits.push('allowed destination: the gateway dials it when you connect');
    if (e.publisher) bits.push(e.mine ? 'published by you' : 'published by ' + e.publisher);
    if (e.from) bits.push('from ' + e.from);
    // An endpoint on another node of a cluster: its connections are counted there.
    if (e.node) bits.push('on ' + e.node);
    else if (e.state === 'online') bits.push(`${e.conns} live connection${e.conns === 1 ? '' : 's'}`);
    return bits.join(' · ');
  }

  // render updates the cards in place (a card's open ssh commands or
  // link stay while its state changes); cards of entries gone are removed.
  function render(list) {
    last = list;
    const ul = $('home-list');
    const entries = list.entries || [];
    // On a cluster whose directory cannot be read: this node's endpoints only, and why.
    $('home-cluster').textContent = list.unavailable || '';
    $('home-cluster').hidden = !list.unavailable;
    $('home-empty').hidden = entries.length > 0;
    if (!entries.length) emptyState(list);
    const keep = new Set();
    entries.forEach((e, i) => {
      const id = 'home-' + e.target.replace(/[^a-zA-Z0-9-]/g, '_');
      keep.add(id);
      let li = document.getElementById(id);
      if (!li) {
        li = el('li', { class: 'card', id, 'data-target': e.target, 'data-kind': e.kind, 'data-node': e.node || '' },
          el('h3', {}, el('span', { class: 'dot', 'aria-hidden': 'true' }), e.target),
          el('p', { class: 'home-meta' }), el('div', { class: 'actions' }), el('p', { class: 'home-out', role: 'status' }));
      }
      if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
      li.dataset.node = e.node || '';
      li.querySelector('.dot').className = 'dot ' + e.state;
      li.querySelector('.home-meta').textContent = describe(e);
      const shape = `${e.state} ${e.mine}`;
      if (li.dataset.state !== e.state || li.dataset.shape !== shape) li.querySelector('.actions').replaceChildren(...actions(e, li));
      li.dataset.state = e.state;
      li.dataset.shape = shape;
    });
    for (const li of [...ul.children]) if (!keep.has(li.id)) li.remove();
    document.body.dataset.home = String(entries.length);
  }

  function actions(e, li) {
    const out = [el('button', { type: 'button', class: 'home-console', text: 'Console', 'aria-label': 'Console to ' + e.target,
      onclick: () => consoleTo(e) })];
    if (e.mine && e.state === 'online') {
      out.push(el('button', { type: 'button', class: 'home-open', text: 'Open', 'aria-label': 'Open ' + e.target + ' in a new tab',
        onclick: (ev) => open(e, ev.currentTarget, li) }));
      out.push(el('button', { type: 'button', class: 'home-share', text: 'Share link', 'aria-label': 'Share link for ' + e.target,
        onclick: (ev) => share(e, ev.currentTarget, li) }));
    }
    if (e.kind !== 'destination') {
      out.push(el('button', { type: 'button', class: 'home-ssh', text: 'Copy ssh command', 'aria-expanded': 'false',
        'aria-label': 'Copy ssh command for ' + e.target, onclick: (ev) => sshBox(e, ev.currentTarget, li) }));
    }
    return out;
  }

  // consoleTo fills the form for e: the target, the last login user used
  // for it, and the password field to type into.
  function consoleTo(e) {
    const known = [...store.get(SAVED, []), ...store.get(RECENT, [])].map(clean).find((t) => t.target === e.target || t.target === e.host);
    useTarget({ target: e.port === 22 ? e.host : e.target, user: known ? known.user : $('console-user').value });
  }

  // open makes a login-required link (only a logged-in user of this
  // gateway gets through) and opens it in a new tab; the link stays shown,
  // in case the browser blocked the new tab.
  async function open(e, button, li) {
    const out = li.querySelector('.home-out');
    out.classList.remove('error');
    await TG.busy(button, async () => {
      try {
        const link = await TG.api('POST', '/api/links', { endpoint: e.endpoint, expires: '1h', login_required: true });
        li.dataset.openUrl = link.url;
        out.replaceChildren(el('a', { href: link.url, target: '_blank', rel: 'noopener noreferrer', text: 'Open ' + e.target }),
          ' (a login-required link, 1 h)');
        window.open(link.url, '_blank', 'noopener');
        document.dispatchEvent(new CustomEvent('tubegate:link-created', { detail: link }));
      } catch (err) {
        out.textContent = 'open: ' + err.message;
        out.classList.add('error');
      }
    });
  }

  async function share(e, button, li) {
    const out = li.querySelector('.home-out');
    out.classList.remove('error');
    await TG.busy(button, async () => {
      try {
        const link = await TG.api('POST', '/api/links', { endpoint: e.endpoint, expires: '24h' });
        out.replaceChildren(TG.copyLine(link.url, 'Copy the share link'));
        document.dispatchEvent(new CustomEvent('tubegate:link-created', { detail: link }));
      } catch (err) {
        out.textContent = 'share link: ' + err.message;
        out.classList.add('error');
      }
    });
  }

  function sshBox(e, button, li) {
    const out = li.querySelector('.home-out');
    if (button.getAttribute('aria-expanded') === 'true') {
      out.replaceChildren();
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    const known = [...store.get(SAVED, []), ...store.get(RECENT, [])].map(clean).find((t) => t.target === e.target || t.target === e.host);
    const c = sshCommands(last, e, known && known.user);
    out.replaceChildren(
      el('p', { class: 'hint', text: 'From your own terminal (needs gateway on the PATH for the ProxyCommand):' }),
      TG.copyLine(c.line, 'Copy the ssh command'),
      el('p', { class: 'hint', text: 'Or for daily use, in ~/.ssh/config, then ' + c.jump + ':' }),
      TG.copyLine(c.config, 'Copy the ~/.ssh/config block'));
    out.querySelectorAll('code')[1].classList.add('block');
    button.setAttribute('aria-expanded', 'true');
  }

  // --- the stream ----------------------------------------------------------------

  function connect() {
    if (source || !document.body.dataset.user) return;
    source = new EventSource('/api/home/events');
    source.addEventListener('home', (ev) => {
      $('home-status').textContent = '';
      try { render(JSON.parse(ev.data)); } catch (e) { /* a torn event: the next one fixes it */ }
    });
    source.onerror = async () => {
      $('home-status').textContent = 'Reconnecting to the gateway for live updates…';
      if (!source || source.readyState !== EventSource.CLOSED) return; // EventSource retries by itself
      source = null;
      try {
        await TG.api('GET', '/api/session');
        setTimeout(connect, 3000);
      } catch (e) {
        // A refusal (the session ended, too many streams) is not retried in a loop.
        $('home-status').textContent = e.status === 401 ? 'Your session has ended: log in again for live updates.'
          : 'Live updates stopped: ' + e.message + '. Reload the page to try again.';
      }
    };
    clearInterval(timer);
    timer = setInterval(() => { if (last) render(last); }, 30000); // "since" words age
  }

  function disconnect() {
    if (source) source.close();
    source = null;
    clearInterval(timer);
    last = null;
    $('home-list').replaceChildren();
  }

  $('console-save').addEventListener('click', saveTarget);
  new MutationObserver(() => {
    if (document.body.dataset.user) { connect(); offerLast(); } else disconnect();
  }).observe(document.body, { attributes: true, attributeFilter: ['data-user'] });
  renderTargets();
})();
