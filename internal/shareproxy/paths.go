package shareproxy

import (
	"net/url"
	"strings"
)

// unescapePath splits an escaped path into url.URL's Path and RawPath, the
// way url.URL.setPath does, so that encoded slashes and the like survive.
func unescapePath(escaped string) (path, raw string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return "/", ""
	}
	if (&url.URL{Path: p}).EscapedPath() != escaped {
		return p, escaped
	}
	return p, ""
}

// prefixed joins the link's prefix and an absolute path.
func prefixed(prefix, path string) string {
	if prefix == "" {
		return path
	}
	return prefix + "/" + strings.TrimPrefix(path, "/")
}
