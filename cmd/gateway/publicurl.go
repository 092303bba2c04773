package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tubegate/tubegate/internal/datadir"
)

// publicURLFile, in the data dir, holds the public base URL the running
// (or last) `gateway serve` prints links with: its --url, or else its HTTP
// listener's URL. `gateway link` uses it when --url is not given, so that
// links printed on the gateway's host point at the port serve listens on.
const publicURLFile = "public_url"

// fallbackURL is the base of printed links when neither --url is given nor
// serve has recorded one: serve's default listen address.
const fallbackURL = "http://127.0.0.1:8080"

// recordPublicURL writes url to the data dir, atomically and owner-only.
func recordPublicURL(dir, url string) error {
	if err := datadir.WriteFile(filepath.Join(dir, publicURLFile), []byte(url+"\n"), 0o600); err != nil {
		return fmt.Errorf("record the public URL: %w", err)
	}
	return nil
}

// recordedPublicURL returns the URL serve recorded in dir, or "" if none.
func recordedPublicURL(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, publicURLFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the public URL serve recorded: %w", err)
	}
	url := strings.TrimSpace(string(data))
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return "", fmt.Errorf("%s: %q is not an http(s) URL", filepath.Join(dir, publicURLFile), url)
	}
	return url, nil
}
