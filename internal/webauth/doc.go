// Package webauth is the page's login: the gateway's users log in with
// their password and get a session cookie (gorilla/securecookie, HttpOnly,
// SameSite=Strict, Secure over HTTPS: TLS or an https --url) whose keys
// live in the data dir, so sessions survive a restart. It also makes the
// first-run admin and its one-time login link, and issues each session's
// CSRF token.
//
// Other parts of the gateway use one method: Sessions, the middleware that
// puts a request's session in its context for webapi.SessionOf (the user,
// the CSRF token webapi.RequireCSRF checks, and whether it still holds).
package webauth
