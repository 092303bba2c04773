package webauth

import (
	"net/http"

	"github.com/tubegate/tubegate/internal/webapi"
)

// LoginMethod is a single sign-on provider the page offers: a link that
// starts the sign-in.
type LoginMethod struct {
	// Name is shown on the page: "Sign in with NAME".
	Name string `json:"name"`
	// URL starts the sign-in, e.g. /auth/oidc/login.
	URL string `json:"url"`
}

type methodsReply struct {
	Password bool          `json:"password"`
	SSO      []LoginMethod `json:"sso"`
}

// handleMethods tells the page how one may log in: GET /api/login/methods.
func (m *Manager) handleMethods(w http.ResponseWriter, r *http.Request) {
	sso := m.sso
	if sso == nil {
		sso = []LoginMethod{}
	}
	webapi.Write(w, http.StatusOK, methodsReply{Password: !m.noPassword, SSO: sso})
}
