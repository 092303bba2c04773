package forward

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Virtual names live in one namespace shared by all users, so which names a
// user may publish is policy, like OpenSSH's permitlisten for ports:
//
//   - every user owns a namespace of their own, their user name and the names
//     under it (alice, myhost.alice, web.dev.alice), publishable by them and by
//     nobody else;
//   - --permit-name GLOB grants more (myhost, db-*, *); a glob never takes a
//     name from another user's namespace, nor one another user's policy names
//     exactly (--permit-name myhost), so nobody can squat a name that another
//     user's hosts publish every day;
//   - a name that some resolver could read as an address (127.1, 0x7f.1,
//     2130706433, 0) is never a virtual name.
//
// Reaching a virtual name: its owner always; another user only with a
// permit-open grant that names the owner, NAME@OWNER:PORT. A permit-open
// rule without an owner names real destinations only, so a virtual name
// never stands in for a real host in anyone's policy.

// NameRule is one --permit-name entry: a lower-case glob ('*' matches any
// run of characters, dots included) or an exact name.
type NameRule string

// ParseNameRule checks a --permit-name entry.
func ParseNameRule(s string) (NameRule, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", fmt.Errorf("permit-name %q: empty", s)
	}
	if _, err := path.Match(s, ""); err != nil {
		return "", fmt.Errorf("permit-name %q: bad pattern: %w", s, err)
	}
	if !strings.ContainsAny(s, "*?[") {
		if err := CheckName(s); err != nil {
			return "", fmt.Errorf("permit-name %q: %w", s, err)
		}
	}
	return NameRule(s), nil
}

// Exact reports whether the rule names one name rather than a pattern.
func (r NameRule) Exact() bool { return !strings.ContainsAny(string(r), "*?[") }

func (r NameRule) match(name string) bool {
	ok, _ := path.Match(string(r), strings.ToLower(name))
	return ok
}

// InNamespace reports whether name is user's own: the user name itself or a
// name under it (myhost.alice for alice).
func InNamespace(user, name string) bool {
	name, user = strings.ToLower(name), strings.ToLower(user)
	return name == user || strings.HasSuffix(name, "."+user)
}

// AllowsName reports whether user's own rules let them publish name: their
// namespace always, and whatever their --permit-name rules match. Whether
// another user's policy claims the name is for the caller to ask (see
// Claims).
func (p Policy) AllowsName(user, name string) bool {
	if InNamespace(user, name) {
		return true
	}
	for _, r := range p.Names {
		if r.match(name) {
			return true
		}
	}
	return false
}

// Claims reports whether user's policy claims name against other users: it
// is in the user's namespace or named exactly by one of their rules.
func (p Policy) Claims(user, name string) bool {
	if InNamespace(user, name) {
		return true
	}
	for _, r := range p.Names {
		if r.Exact() && strings.EqualFold(string(r), name) {
			return true
		}
	}
	return false
}

// CheckName says why s cannot be a virtual name, or returns nil: it must be
// a DNS-style label sequence of at most 253 characters that no resolver
// could read as an address.
func CheckName(s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%q is not a valid name (labels of a-z 0-9 - _, at most 253 characters)", s)
	}
	if LooksLikeAddress(s) {
		return fmt.Errorf("%q could be read as an address, so it cannot be a name", s)
	}
	return nil
}

// LooksLikeAddress reports whether some resolver could take name for an
// IPv4 address: inet_aton's forms (1 to 4 parts, each decimal, octal or
// 0x-hex: 127.1, 0x7f.1, 2130706433, 0) and, to be safe, any name whose
// last label is all digits (no top-level domain is).
func LooksLikeAddress(name string) bool {
	labels := strings.Split(strings.ToLower(name), ".")
	last := labels[len(labels)-1]
	if _, err := strconv.ParseUint(last, 10, 64); err == nil {
		return true
	}
	if len(labels) > 4 {
		return false
	}
	for _, l := range labels {
		if _, err := strconv.ParseUint(l, 0, 64); err != nil {
			hex := strings.TrimPrefix(l, "0x")
			if hex == l || hex == "" {
				return false
			}
			if _, err := strconv.ParseUint(hex, 16, 64); err != nil {
				return false
			}
		}
	}
	return true
}
