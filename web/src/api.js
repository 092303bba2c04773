// Tubegate's page: the one way its scripts call the gateway's JSON API
// (app.js, links.js and password.js all use it). State-changing calls
// carry the session's CSRF token: the caller's, or the session's as
// /api/session tells it. A refusal ({"error", "field"}) becomes an Error
// with the gateway's message, the HTTP status and the field it is about.
'use strict';

window.tubegateAPI = async (method, path, body, csrf) => {
  const headers = {};
  if (method !== 'GET') {
    if (csrf === undefined) {
      const s = await fetch('/api/session', { credentials: 'same-origin' });
      csrf = s.ok ? (await s.json()).csrf : '';
    }
    headers['X-CSRF-Token'] = csrf;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (resp.status !== 204) {
    try { data = await resp.json(); } catch (e) { data = null; }
  }
  if (!resp.ok) {
    const err = new Error(data && data.error ? data.error : `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    err.field = (data && data.field) || '';
    throw err;
  }
  return data;
};
