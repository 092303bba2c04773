// Tubegate's page: forwards. Each belongs to a console (the tab shown when
// it was added) and lives as long as that console's host connection; the
// table lists every forward of every console, with live counters, a Share
// link for -L, and Remove. A refused forward keeps its row with the reason.
'use strict';

(() => {
  const TG = window.TG;
  const { $, el, setError } = TG;
  let poll = 0;
  let refused = 0;

  function cell(row, text, cls) {
    const td = el('td', { class: cls, text });
    row.append(td);
    return td;
  }

  function consoleName(cid) {
    const tab = TG.consoles.byId(cid);
    return tab ? TG.consoles.label(tab) : cid;
  }

  function render() {
    const client = TG.wasmLoaded();
    if (!client) return;
    const list = client.forwards();
    const body = $('forwards');
    const seen = new Set();
    for (const f of list) {
      seen.add(f.id);
      let row = body.querySelector(`tr[data-id="${f.id}"]`);
      if (!row) {
        row = el('tr', { 'data-id': f.id, 'data-endpoint': f.endpoint, 'data-console': f.console });
        cell(row, f.spec, 'spec');
        cell(row, consoleName(f.console), 'console');
        cell(row, f.listen, 'listen');
        cell(row, f.target, 'target');
        cell(row, '', 'conns');
        cell(row, '', 'bytes');
        const actions = cell(row, '', 'actions');
        if (f.kind === 'L') {
          actions.append(el('button', { type: 'button', class: 'share-link', text: 'Share link',
            'aria-label': 'Share link for ' + f.listen, onclick: (ev) => shareLink(row, f.endpoint, ev.currentTarget) }));
          actions.append(shareOptions(f));
        }
        actions.append(el('button', { type: 'button', class: 'forward-remove', id: 'forward-remove-' + f.id, text: 'Remove',
          'aria-label': 'Remove ' + f.spec,
          onclick: async (ev) => {
            await TG.busy(ev.currentTarget, async () => {
              forget(f.id);
              try { await client.removeForward(f.id); } catch (e) { setError('forward-error', e.message); }
            });
            render();
          } }));
        actions.append(el('span', { class: 'share-url' }));
        body.append(row);
      }
      row.querySelector('.conns').textContent = `${f.active} open, ${f.total} total` + (f.lastError ? ` (last error: ${f.lastError})` : '');
      row.querySelector('.bytes').textContent = `${TG.fmtBytes(f.bytesIn)} / ${TG.fmtBytes(f.bytesOut)}`;
      row.dataset.active = f.active;
      row.dataset.total = f.total;
    }
    for (const row of [...body.children]) if (!row.dataset.refused && !seen.has(row.dataset.id)) row.remove();
  }

  // refusedRow keeps a forward that was refused in the table, with the
  // reason, until the person dismisses it.
  function refusedRow(spec, reason, tab) {
    const row = el('tr', { class: 'refused', 'data-refused': 'true', 'data-id': 'refused-' + (++refused) });
    cell(row, spec, 'spec');
    const owner = tab || TG.consoles.active();
    cell(row, owner ? TG.consoles.label(owner) : '', 'console');
    const why = cell(row, 'refused: ' + reason, 'reason');
    why.colSpan = 4;
    cell(row, '', 'actions').append(el('button', { type: 'button', class: 'forward-dismiss', text: 'Dismiss', onclick: () => row.remove() }));
    $('forwards').append(row);
  }

  // shareOptions is the row's link options: expiry, guard (none, login
  // required, or a user name and password) and max uses. Share link makes
  // a link with what they say.
  function shareOptions(f) {
    const label = (text, control) => el('label', {}, text + ' ', control);
    const expires = el('select', { class: 'share-expires', 'aria-label': 'Link expires after' },
      ...[['1h', '1 hour'], ['2h', '2 hours'], ['24h', '1 day'], ['7d', '7 days']].map(([v, t]) =>
        el('option', { value: v, text: t, selected: v === '2h' })));
    const guard = el('select', { class: 'share-guard', 'aria-label': 'Who may open the link' },
      el('option', { value: 'none', text: 'anyone with the link' }),
      el('option', { value: 'login', text: 'people logged in here' }),
      el('option', { value: 'password', text: 'a user name and password' }));
    const user = el('input', { class: 'share-user', value: 'guest', autocomplete: 'off', 'aria-label': 'User name viewers give' });
    const pass = el('input', { class: 'share-password', type: 'password', autocomplete: 'new-password', minlength: '8',
      'aria-label': 'Password viewers give (8 characters or more)' });
    const creds = el('span', { class: 'share-creds', hidden: true }, label('user', user), label('password', pass));
    guard.addEventListener('change', () => { creds.hidden = guard.value !== 'password'; });
    const uses = el('input', { class: 'share-max-uses', type: 'number', min: '0', max: '1000', placeholder: 'no limit',
      'aria-label': 'How many viewers may open the link (empty: no limit)' });
    return el('details', { class: 'share-options' }, el('summary', { text: 'Link options', 'aria-label': 'Link options for ' + f.listen }),
      label('expires after', expires), label('open to', guard), creds, label('max uses', uses));
  }

  // linkRequest is the POST /api/links body from a row's link options.
  function linkRequest(row, endpoint) {
    const q = (c) => row.querySelector(c);
    const req = { endpoint, expires: q('.share-expires') ? q('.share-expires').value : '2h' };
    const guard = q('.share-guard') ? q('.share-guard').value : 'none';
    if (guard === 'login') req.login_required = true;
    if (guard === 'password') req.basic_auth = q('.share-user').value.trim() + ':' + q('.share-password').value;
    const uses = q('.share-max-uses') ? Number(q('.share-max-uses').value || 0) : 0;
    if (uses > 0) req.max_uses = uses;
    return req;
  }

  async function shareLink(row, endpoint, button) {
    const out = row.querySelector('.share-url');
    out.classList.remove('error');
    out.replaceChildren();
    for (const old of row.querySelectorAll('.share-copy')) old.remove();
    await TG.busy(button, async () => {
      try {
        const link = await TG.api('POST', '/api/links', linkRequest(row, endpoint));
        out.textContent = link.url;
        row.dataset.linkId = link.id;
        const copy = el('button', { type: 'button', class: 'copy share-copy', text: 'Copy', 'aria-label': 'Copy the share link' });
        copy.onclick = () => TG.copy(copy, link.url);
        row.querySelector('.actions').append(copy);
        document.dispatchEvent(new CustomEvent('tubegate:link-created', { detail: link }));
      } catch (e) {
        out.classList.add('error');
        out.textContent = 'share link: ' + e.message;
      }
    });
  }

  // Each console tab keeps its forwards (tab.kept: id, and the spec pinned
  // to the port the listener got), so that a Reconnect brings them back on
  // the same ports and a share link that names 127.0.0.1:PORT works again.
  function remember(tab, info) {
    if (!tab) return;
    (tab.kept = tab.kept || []).push({ id: info.id, again: info.again || info.spec });
  }
  function forget(id) {
    for (const tab of TG.consoles.list()) if (tab.kept) tab.kept = tab.kept.filter((k) => k.id !== id);
  }

  // restore adds a reconnected console's forwards again, each asking for
  // the port it had; one that cannot have it (taken meanwhile, or refused)
  // gets a refused row with the reason, and links to it stay dead. A
  // refusal is tried again a few times first (2.5 s in all): the host's
  // sshd closes the old session's listeners on its own time, and a -R
  // asked for again at once can find its port still held by them.
  async function restore(tab) {
    const client = TG.wasmLoaded();
    if (!tab || !tab.kept || !tab.kept.length || !client) return;
    const kept = tab.kept;
    tab.kept = [];
    for (const k of kept) {
      try {
        remember(tab, await addAgain(client, k.again, tab.cid));
      } catch (e) {
        refusedRow(k.again, 'after reconnecting: ' + e.message, tab);
      }
    }
  }
  async function addAgain(client, spec, cid) {
    for (let i = 1; ; i++) {
      try {
        return await client.addForward(spec, cid);
      } catch (e) {
        if (i === 5) throw e;
        await new Promise((r) => setTimeout(r, 250 * i));
      }
    }
  }

  function start() {
    if (!poll) poll = setInterval(render, 1000);
    render();
  }

  $('forward-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('forward-error', '');
    const spec = $('forward-spec').value.trim();
    const active = TG.consoles.active();
    await TG.busy($('forward-add'), async () => {
      try {
        const client = await TG.wasm();
        remember(active, await client.addForward($('forward-spec').value, active && active.cid ? active.cid : undefined));
        $('forward-spec').value = '';
        start();
      } catch (e) {
        setError('forward-error', e.message);
        if (spec) refusedRow(spec, e.message);
      }
    });
  });

  document.addEventListener('tubegate:console-open', async (ev) => {
    await restore(TG.consoles.byId(ev.detail.id));
    start();
  });
  document.addEventListener('tubegate:console-closed', render);
})();
