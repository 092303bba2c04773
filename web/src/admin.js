// Tubegate's admin page (/admin): users, live connections, every share
// link and the last audit events, through /api/admin/ (api.js). Every
// call is refused to anyone but an administrator; the page then says so.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const api = (method, path, body) => window.tubegateAPI(method, path, body);
  let me = '';

  function show(el, msg) {
    el.textContent = msg || '';
    el.hidden = !msg;
  }

  function cell(row, text) {
    const td = document.createElement('td');
    td.textContent = text;
    row.append(td);
    return td;
  }

  function button(row, cls, label, onClick) {
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = label;
    b.addEventListener('click', () => onClick(b));
    td.append(b);
    row.append(td);
    return b;
  }

  // A destructive button asks once more: the first click turns it into
  // "Confirm", the second acts.
  function confirmed(b, label) {
    if (b.classList.contains('confirm')) return true;
    b.classList.add('confirm');
    b.textContent = 'Confirm ' + label.toLowerCase();
    return false;
  }

  const words = (s) => s.split(/[\s,]+/).filter(Boolean);
  const list = (a) => (a && a.length ? a.join(' ') : '–');

  function fail(e) {
    show($('admin-error'), e.status === 403 || e.status === 401
      ? 'This page is for administrators: ' + e.message
      : e.message);
  }

  async function loadUsers() {
    const users = await api('GET', '/api/admin/users');
    const body = $('admin-users');
    body.replaceChildren();
    for (const u of users) {
      const row = document.createElement('tr');
      row.dataset.name = u.name;
      cell(row, u.name);
      cell(row, u.admin ? 'yes' : '');
      cell(row, [u.keys.length ? `${u.keys.length} key(s)` : '', u.has_password ? 'password' : ''].filter(Boolean).join(', ') || '–');
      cell(row, list(u.permit_open));
      cell(row, u.permit_listen === null ? 'default' : list(u.permit_listen));
      cell(row, list(u.permit_name));
      const actions = button(row, 'user-edit', 'Edit', () => edit(u)).parentElement;
      if (u.name !== me) {
        const del = document.createElement('button');
        del.type = 'button';
        del.className = 'user-delete';
        del.textContent = 'Delete';
        del.addEventListener('click', async () => {
          if (!confirmed(del, 'Delete')) return;
          try {
            await api('DELETE', '/api/admin/users/' + encodeURIComponent(u.name));
            show($('admin-error'), '');
          } catch (e) { fail(e); }
          refresh();
        });
        actions.append(' ', del);
      }
      body.append(row);
    }
  }

  function edit(u) {
    const f = $('edit-form');
    f.dataset.name = u.name;
    $('edit-name').textContent = u.name;
    for (const id of ['edit-password', 'edit-add-keys', 'edit-remove-keys']) $(id).value = '';
    $('edit-no-password').checked = false;
    $('edit-permit-open').value = u.permit_open.join(' ');
    $('edit-permit-listen').value = u.permit_listen === null ? '' : u.permit_listen.join(' ');
    $('edit-permit-name').value = u.permit_name.join(' ');
    $('edit-admin').checked = u.admin;
    show($('edit-error'), '');
    f.hidden = false;
    $('edit-password').focus();
  }

  $('edit-cancel').addEventListener('click', () => { $('edit-form').hidden = true; });

  $('edit-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('edit-form').dataset.name;
    const req = {
      permit_open: words($('edit-permit-open').value),
      permit_name: words($('edit-permit-name').value),
      admin: $('edit-admin').checked,
    };
    const listen = words($('edit-permit-listen').value);
    if (listen.length) req.permit_listen = listen; else req.default_listen = true;
    if ($('edit-password').value) req.password = $('edit-password').value;
    if ($('edit-no-password').checked) req.no_password = true;
    if ($('edit-add-keys').value.trim()) req.add_keys = $('edit-add-keys').value;
    if ($('edit-remove-keys').value.trim()) req.remove_keys = $('edit-remove-keys').value;
    try {
      await api('PATCH', '/api/admin/users/' + encodeURIComponent(name), req);
      $('edit-form').hidden = true;
      $('edit-password').value = '';
    } catch (e) {
      show($('edit-error'), e.message);
      return;
    }
    refresh();
  });

  $('user-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const req = {
      name: $('user-name').value.trim(),
      password: $('user-password').value,
      keys: $('user-keys').value,
      permit_open: words($('user-permit-open').value),
      permit_name: words($('user-permit-name').value),
      admin: $('user-admin').checked,
    };
    const listen = words($('user-permit-listen').value);
    if (listen.length) req.permit_listen = listen;
    try {
      await api('POST', '/api/admin/users', req);
    } catch (e) {
      show($('user-error'), e.message);
      return;
    }
    show($('user-error'), '');
    $('user-form').reset();
    refresh();
  });

  async function loadTubes() {
    const tubes = await api('GET', '/api/admin/tubes');
    const body = $('admin-tubes');
    body.replaceChildren();
    for (const t of tubes) {
      const row = document.createElement('tr');
      row.dataset.id = t.id;
      row.dataset.user = t.user;
      cell(row, t.id);
      cell(row, t.user);
      cell(row, t.source);
      cell(row, t.transport);
      cell(row, new Date(t.since).toLocaleString());
      cell(row, list(t.forwards));
      cell(row, `${t.bytes_in} / ${t.bytes_out}`);
      button(row, 'tube-disconnect', 'Disconnect', async (b) => {
        if (!confirmed(b, 'Disconnect')) return;
        try { await api('DELETE', '/api/admin/tubes/' + encodeURIComponent(t.id)); } catch (e) { fail(e); }
        refresh();
      });
      body.append(row);
    }
  }

  async function loadLinks() {
    const links = await api('GET', '/api/admin/links');
    const body = $('admin-links');
    body.replaceChildren();
    for (const l of links) {
      const row = document.createElement('tr');
      row.dataset.id = l.id;
      cell(row, l.id);
      cell(row, l.user);
      cell(row, l.endpoint + (l.kind === 'tcp' ? ' (tcp)' : ''));
      cell(row, new Date(l.expires).toLocaleString());
      cell(row, [l.basic_auth && 'password', l.login_required && 'login'].filter(Boolean).join(', ') || '–');
      cell(row, String(l.connections));
      button(row, 'link-revoke', 'Revoke', async (b) => {
        if (!confirmed(b, 'Revoke')) return;
        try { await api('DELETE', '/api/admin/links/' + encodeURIComponent(l.id)); } catch (e) { fail(e); }
        refresh();
      });
      body.append(row);
    }
  }

  async function loadEvents() {
    const r = await api('GET', '/api/admin/audit?n=100');
    $('admin-audit-file').textContent = (r.file ? `Written to ${r.file === '-' ? 'standard output' : r.file}.` :
      'Not written to a file (gateway serve --audit-log FILE); the last events are kept in memory.') +
      (r.dropped ? ` ${r.dropped} event(s) dropped.` : '');
    const body = $('admin-events');
    body.replaceChildren();
    for (const e of r.events) {
      const row = document.createElement('tr');
      row.dataset.event = e.event;
      cell(row, new Date(e.time).toLocaleString());
      cell(row, e.event);
      cell(row, e.outcome);
      cell(row, e.user);
      cell(row, e.source);
      cell(row, e.tube);
      const details = [];
      for (const k of ['subject', 'target', 'link', 'endpoint', 'method', 'reason']) if (e[k]) details.push(`${k}=${e[k]}`);
      if (e.by && e.by !== e.user) details.push(`by=${e.by}`);
      if (e.fields) details.push(`fields=${e.fields.join(',')}`);
      if (e.event === 'tube.close') details.push(`bytes ${e.bytes_in || 0}/${e.bytes_out || 0}`, `${e.duration_ms || 0} ms`);
      cell(row, details.join(' '));
      body.append(row);
    }
  }

  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      await Promise.all([loadUsers(), loadTubes(), loadLinks(), loadEvents()]);
      $('admin').hidden = false;
      document.body.dataset.loaded = String(Date.now());
    } catch (e) {
      fail(e);
      if (e.status === 401 || e.status === 403) $('admin').hidden = true;
    } finally {
      busy = false;
    }
  }

  (async () => {
    try {
      const s = await api('GET', '/api/session');
      me = s.user;
      $('admin-whoami').textContent = 'logged in as ' + s.user;
    } catch (e) {
      show($('admin-error'), 'Log in on the main page first.');
      return;
    }
    await refresh();
    setInterval(refresh, 2000);
  })();
})();
