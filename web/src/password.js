// Tubegate's password form: the logged-in user sets their own password.
// The first-run admin has none, and is asked to set one, since the
// first-run link works only once. Self-contained: it adds its own section
// to the page and follows log in and out through body[data-user].
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  function section() {
    let sec = $('password-section');
    if (sec) return sec;
    const app = $('app');
    if (!app) return null;
    sec = document.createElement('section');
    sec.id = 'password-section';
    sec.innerHTML = '<h2>Your password</h2>' +
      '<p id="password-missing" class="error" hidden>This account has no password yet. Set one now: ' +
      'the first-run link works only once.</p>' +
      '<form id="password-form" autocomplete="on">' +
      '<label id="password-current-label">Current password ' +
      '<input id="password-current" type="password" autocomplete="current-password"></label>' +
      '<label>New password (8 characters or more) ' +
      '<input id="password-new" type="password" autocomplete="new-password" minlength="8" required></label>' +
      '<button id="password-submit" type="submit">Set password</button>' +
      '</form><p id="password-status" role="status"></p>';
    app.append(sec);
    $('password-form').addEventListener('submit', submit);
    return sec;
  }

  async function refresh() {
    if (!document.body.dataset.user || !section()) return;
    let s;
    try { s = await window.tubegateAPI('GET', '/api/session'); } catch (e) { return; }
    $('password-missing').hidden = s.has_password;
    // Until a password is set, the form comes first, above the fold; then
    // it goes back to the end of the page.
    const app = $('app');
    if (!s.has_password && app.firstElementChild !== section()) app.prepend(section());
    if (s.has_password && app.lastElementChild !== section()) app.append(section());
    $('password-current-label').hidden = !s.has_password;
    document.body.dataset.hasPassword = s.has_password ? 'yes' : 'no';
  }

  async function submit(ev) {
    ev.preventDefault();
    const status = $('password-status');
    status.textContent = '';
    status.classList.remove('error');
    $('password-submit').disabled = true;
    try {
      await window.tubegateAPI('POST', '/api/password',
        { current: $('password-current').value, new: $('password-new').value });
      status.textContent = 'Password set.';
      $('password-current').value = '';
      $('password-new').value = '';
      await refresh();
    } catch (e) {
      status.textContent = 'Password not set: ' + e.message;
      status.classList.add('error');
    } finally {
      $('password-submit').disabled = false;
    }
  }

  new MutationObserver(() => refresh()).observe(document.body, { attributes: true, attributeFilter: ['data-user'] });
  refresh();
})();
