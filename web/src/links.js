// Tubegate's share links list: the logged-in user's live links, each with
// a Revoke button. Self-contained (it adds its own section after the
// forwards); the page only loads it. Talks to /api/links through api.js.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  function section() {
    let sec = $('links-section');
    if (sec) return sec;
    const app = $('app');
    if (!app) return null;
    sec = document.createElement('section');
    sec.id = 'links-section';
    sec.innerHTML = '<h2>Share links</h2>' +
      '<p class="hint">A link\'s secret URL is shown once, when it is made. Revoking a link cuts its live connections.</p>' +
      '<p id="links-error" class="error" role="alert" hidden></p>' +
      '<table tabindex="0" aria-label="Share links"><thead><tr><th>Id</th><th>Endpoint</th><th>Expires</th><th>Guards</th><th>URL</th><th></th></tr></thead>' +
      '<tbody id="links"></tbody></table>';
    app.append(sec);
    return sec;
  }

  function setError(msg) {
    const el = $('links-error');
    el.textContent = msg || '';
    el.hidden = !msg;
  }

  const call = (method, path) => window.tubegateAPI(method, path);


  function td(row, text) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
    return cell;
  }

  async function refresh() {
    if (!document.body.dataset.user || !section()) return;
    let links;
    try {
      links = await call('GET', '/api/links');
      setError('');
    } catch (e) {
      setError('share links: ' + e.message);
      return;
    }
    const body = $('links');
    body.replaceChildren();
    for (const l of links) {
      const row = document.createElement('tr');
      row.dataset.id = l.id;
      td(row, l.id);
      td(row, l.endpoint + (l.kind === 'tcp' ? ' (tcp)' : ''));
      td(row, new Date(l.expires).toLocaleString());
      td(row, [l.basic_auth && 'password', l.login_required && 'login', l.max_uses && `${l.uses} of ${l.max_uses} uses`].filter(Boolean).join(', ') || '–');
      td(row, l.url || '(shown when made)');
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'link-revoke';
      btn.id = 'link-revoke-' + l.id;
      btn.textContent = 'Revoke';
      btn.onclick = async () => {
        btn.disabled = true;
        try { await call('DELETE', '/api/links/' + encodeURIComponent(l.id)); } catch (e) { setError('revoke: ' + e.message); }
        refresh();
      };
      td(row, '').append(btn);
      body.append(row);
    }
  }

  // A new link made with a forward's .share-link button shows up at once:
  // app.js says so with a tubegate:link-created event once it is made.
  document.addEventListener('tubegate:link-created', () => refresh());
  // Log in and out are seen through body[data-user].
  new MutationObserver(() => refresh()).observe(document.body, { attributes: true, attributeFilter: ['data-user'] });
  setInterval(refresh, 5000);
  refresh();
})();
