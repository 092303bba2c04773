// Package webauth is the page's login: the gateway's users log in with
// their password and get a session cookie (gorilla/securecookie, HttpOnly,
// SameSite=Strict, Secure over HTTPS: TLS or an https --url) whose keys
// live in the data dir, so sessions survive a restart. It also makes the
// first-run admin and its one-time login link, and guards state-changing
// API calls against CSRF.
//
// Other parts of the gateway use two methods: User, the logged-in user of a
// request, and CheckCSRF, whether a state-changing request carries the
// session's CSRF token and comes from the gateway's own origin.
package webauth
