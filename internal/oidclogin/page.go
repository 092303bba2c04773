package oidclogin

import (
	"html/template"
	"net/http"
)

// refusalPage is what a browser sees when a sign-in is refused: the reason
// and a way back to the page. No scripts, no styles from anywhere.
var refusalPage = template.Must(template.New("refused").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign-in refused · Tubegate</title></head>
<body>
<h1>Sign-in refused</h1>
<p id="sso-error">{{.Message}}</p>
<p><a id="sso-back" href="/">Back to Tubegate</a></p>
</body>
</html>
`))

// refuse answers a sign-in that did not work with the refusal page.
func (h *Handler) refuse(w http.ResponseWriter, status int, msg string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = refusalPage.Execute(w, struct{ Message string }{msg})
}
