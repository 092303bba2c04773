package adminapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

// maxBody bounds a request body (keys included).
const maxBody = 256 << 10

// UserJSON is a user as the admin page shows it (never the password hash).
type UserJSON struct {
	Name        string   `json:"name"`
	Admin       bool     `json:"admin"`
	HasPassword bool     `json:"has_password"`
	Keys        []string `json:"keys"`
	PermitOpen  []string `json:"permit_open"`
	// PermitListen is null for the default (any unprivileged loopback port).
	PermitListen []string  `json:"permit_listen"`
	PermitName   []string  `json:"permit_name"`
	Created      time.Time `json:"created"`
}

func userJSON(u users.User) UserJSON {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return UserJSON{Name: u.Name, Admin: u.Admin, HasPassword: u.PasswordHash != "", Keys: nz(u.Keys),
		PermitOpen: nz(u.PermitOpen), PermitListen: u.PermitListen, PermitName: nz(u.PermitName), Created: u.Created}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	list, err := a.cfg.Users.List()
	if err != nil {
		a.log.Error("admin: list users", "err", err)
		webapi.Error(w, http.StatusInternalServerError, "cannot read the users")
		return
	}
	out := make([]UserJSON, 0, len(list))
	for _, u := range list {
		out = append(out, userJSON(u))
	}
	webapi.Write(w, http.StatusOK, out)
}

// CreateRequest is the body of POST /api/admin/users: what `gateway user
// add` takes. Keys is authorized_keys text (one key a line).
type CreateRequest struct {
	Name         string    `json:"name"`
	Password     string    `json:"password,omitempty"`
	Keys         string    `json:"keys,omitempty"`
	PermitOpen   []string  `json:"permit_open,omitempty"`
	PermitListen *[]string `json:"permit_listen,omitempty"` // null or absent: the default
	PermitName   []string  `json:"permit_name,omitempty"`
	Admin        bool      `json:"admin,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !webapi.Decode(w, r, maxBody, &req) {
		return
	}
	u := users.User{Name: req.Name, Admin: req.Admin, PermitOpen: req.PermitOpen, PermitName: req.PermitName}
	if req.PermitListen != nil {
		u.PermitListen = *req.PermitListen
	}
	if err := users.ValidateName(u.Name); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "name", err.Error())
		return
	}
	var err error
	if u.Keys, err = parseKeys(req.Keys); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "keys", err.Error())
		return
	}
	if req.Password != "" {
		if u.PasswordHash, err = users.HashPassword(req.Password); err != nil {
			webapi.FieldError(w, http.StatusBadRequest, "password", err.Error())
			return
		}
	}
	if field, err := policyField(u.Name, u.PermitOpen, u.PermitListen, u.PermitName); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	if err := a.cfg.Users.Create(u, actor(r)); err != nil {
		status, field := http.StatusBadRequest, ""
		switch {
		case errors.Is(err, users.ErrNoLogin):
			field = "password"
		case errors.Is(err, users.ErrExists):
			status, field = http.StatusConflict, "name"
		}
		webapi.FieldError(w, status, field, err.Error())
		return
	}
	a.log.Info("admin: user created", "user", u.Name, "by", actor(r).By)
	created, _ := a.cfg.Users.Get(u.Name)
	webapi.Write(w, http.StatusCreated, userJSON(created))
}

// ChangeRequest is the body of PATCH /api/admin/users/{name}: what
// `gateway user set` takes; only what is present changes.
type ChangeRequest struct {
	Password      string    `json:"password,omitempty"`
	NoPassword    bool      `json:"no_password,omitempty"`
	AddKeys       string    `json:"add_keys,omitempty"`
	RemoveKeys    string    `json:"remove_keys,omitempty"`
	PermitOpen    *[]string `json:"permit_open,omitempty"`
	PermitListen  *[]string `json:"permit_listen,omitempty"`
	DefaultListen bool      `json:"default_listen,omitempty"`
	PermitName    *[]string `json:"permit_name,omitempty"`
	Admin         *bool     `json:"admin,omitempty"`
}

func (a *API) changeUser(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var req ChangeRequest
	if !webapi.Decode(w, r, maxBody, &req) {
		return
	}
	by := actor(r)
	if name == by.By && req.Admin != nil && !*req.Admin {
		webapi.FieldError(w, http.StatusBadRequest, "admin",
			"you cannot take away your own admin rights: another administrator can")
		return
	}
	if req.Password != "" && req.NoPassword {
		webapi.FieldError(w, http.StatusBadRequest, "password", "set a password or remove it, not both")
		return
	}
	e := users.Edit{NoPassword: req.NoPassword, PermitOpen: req.PermitOpen, PermitName: req.PermitName, Admin: req.Admin}
	var err error
	if e.AddKeys, err = parseKeys(req.AddKeys); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "add_keys", err.Error())
		return
	}
	if e.RemoveKeys, err = parseKeys(req.RemoveKeys); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "remove_keys", err.Error())
		return
	}
	if req.Password != "" {
		if e.PasswordHash, err = users.HashPassword(req.Password); err != nil {
			webapi.FieldError(w, http.StatusBadRequest, "password", err.Error())
			return
		}
	}
	switch {
	case req.PermitListen != nil:
		e.PermitListen = req.PermitListen
	case req.DefaultListen:
		e.PermitListen = new([]string)
	}
	deref := func(p *[]string) []string {
		if p == nil {
			return nil
		}
		return *p
	}
	if field, err := policyField(name, deref(e.PermitOpen), deref(e.PermitListen), deref(e.PermitName)); err != nil {
		webapi.FieldError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	if err := a.cfg.Users.Set(name, e, by); err != nil {
		status, field := http.StatusBadRequest, ""
		switch {
		case errors.Is(err, users.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, users.ErrLastLogin):
			field = "password"
		}
		if _, ok := errors.AsType[*users.KeyNotFoundError](err); ok {
			field = "remove_keys"
		}
		webapi.FieldError(w, status, field, err.Error())
		return
	}
	a.log.Info("admin: user changed", "user", name, "by", by.By)
	u, _ := a.cfg.Users.Get(name)
	webapi.Write(w, http.StatusOK, userJSON(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	by := actor(r)
	if name == by.By {
		webapi.Error(w, http.StatusBadRequest, "you cannot delete yourself: another administrator can")
		return
	}
	if err := a.cfg.Users.DeleteBy(name, by); err != nil {
		if errors.Is(err, users.ErrNotFound) {
			webapi.Error(w, http.StatusNotFound, err.Error())
			return
		}
		a.log.Error("admin: delete user", "user", name, "err", err)
		webapi.Error(w, http.StatusInternalServerError, "the user could not be deleted: "+err.Error())
		return
	}
	a.log.Info("admin: user deleted", "user", name, "by", by.By)
	w.WriteHeader(http.StatusNoContent)
}

// parseKeys parses authorized_keys text as `gateway user --key FILE` does.
func parseKeys(text string) ([]string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	return users.ParseKeys([]byte(text))
}

// policyField checks each policy list on its own, with the same parser
// and words as `gateway user`, to say which field a refusal is about.
func policyField(name string, open, listen, names []string) (string, error) {
	for _, c := range []struct {
		field string
		u     users.User
	}{
		{"permit_open", users.User{Name: name, PermitOpen: open}},
		{"permit_listen", users.User{Name: name, PermitListen: listen}},
		{"permit_name", users.User{Name: name, PermitName: names}},
	} {
		if _, err := c.u.Policy(); err != nil {
			return c.field, err
		}
	}
	return "", nil
}
