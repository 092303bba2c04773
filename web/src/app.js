// Tubegate's page: logging in and out, and booting the parts (home,
// consoles, forwards, settings, links, password), which follow the login
// through body[data-user]. No inline scripts: the CSP forbids them.
'use strict';

(() => {
  const TG = window.TG;
  const { $, show, setError } = TG;

  function loggedIn(s) {
    TG.csrf = s.csrf;
    $('user-name').textContent = s.user;
    show('whoami', true);
    show('nav', true);
    show('login', false);
    show('app', true);
    document.body.dataset.user = s.user;
  }

  function loggedOut(msg) {
    TG.csrf = '';
    delete document.body.dataset.user;
    show('whoami', false);
    show('nav', false);
    show('app', false);
    show('login', true);
    setError('login-error', msg);
  }

  async function boot() {
    if (location.pathname === '/login/first') {
      const token = location.hash.slice(1) || new URLSearchParams(location.search).get('token') || '';
      history.replaceState(null, '', '/');
      try {
        loggedIn(await TG.api('POST', '/api/login/first', { token }));
      } catch (e) {
        loggedOut(e.message);
      }
      return;
    }
    try {
      loggedIn(await TG.api('GET', '/api/session'));
    } catch (e) {
      loggedOut(e.status === 401 ? '' : e.message);
    }
  }

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('login-error', '');
    await TG.busy($('login-submit'), async () => {
      try {
        loggedIn(await TG.api('POST', '/api/login', { user: $('login-user').value, password: $('login-password').value }));
        $('login-password').value = '';
      } catch (e) {
        setError('login-error', e.message);
      }
    });
  });

  $('logout').addEventListener('click', async () => {
    await TG.busy($('logout'), async () => {
      try { await TG.api('POST', '/api/logout'); } catch (e) { /* the cookie may be gone already */ }
    });
    TG.consoles.closeAll();
    loggedOut('');
  });

  boot();
})();
