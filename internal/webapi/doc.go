// Package webapi holds the conventions of the page's JSON API, as chi
// middleware and helpers every API handler shares: the logged-in session
// in the request context (decoded once per request, by the web login's
// middleware), the origin and CSRF guards of state-changing calls, and
// JSON in and out with errors in one shape, {"error": "...", "field": "..."}.
package webapi
