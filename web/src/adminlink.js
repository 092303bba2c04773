// Shows the main page's link to the admin page (#admin-link) to
// administrators, as the logged-in user changes (app.js sets
// body[data-user]). Self-contained; the page only loads it.
'use strict';

(() => {
  const check = async () => {
    const link = document.getElementById('admin-link');
    if (!link) return;
    let admin = false;
    if (document.body.dataset.user) {
      try {
        const s = await fetch('/api/session', { credentials: 'same-origin' });
        admin = s.ok && (await s.json()).admin;
      } catch (e) { admin = false; }
    }
    link.hidden = !admin;
  };
  new MutationObserver(check).observe(document.body, { attributes: true, attributeFilter: ['data-user'] });
  check();
})();
