// Tubegate's single sign-on buttons on the login form: one "Sign in with
// NAME" button per provider the gateway offers (GET /api/login/methods),
// the first with id #login-sso; with password login turned off, the
// password form is hidden. Self-contained: the page only loads it.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  async function setup() {
    const login = $('login');
    if (!login) return;
    let m;
    try { m = await window.tubegateAPI('GET', '/api/login/methods'); } catch (e) { return; }
    if (m.sso && m.sso.length && !$('login-sso-box')) {
      const box = document.createElement('p');
      box.id = 'login-sso-box';
      m.sso.forEach((p, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'sso-login';
        if (i === 0) b.id = 'login-sso';
        b.textContent = 'Sign in with ' + p.name;
        // A top-level navigation: the provider's page takes over from here.
        b.addEventListener('click', () => { location.assign(p.url); });
        box.append(b);
      });
      const form = $('login-form');
      login.insertBefore(box, form);
    }
    if (m.password === false) {
      $('login-form').hidden = true;
      document.body.dataset.passwordLogin = 'off';
    }
  }

  setup();
})();
