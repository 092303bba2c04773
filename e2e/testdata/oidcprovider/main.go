// Command oidcprovider is the OpenID provider the e2e tests sign in
// through: zitadel/oidc's OpenID-certified provider package (pkg/op) as its
// example server sets it up (exampleop.SetupServer: discovery, keys,
// authorization with PKCE, token and userinfo endpoints, and the example's
// own HTML login page at /login/username), with in-memory storage. Only
// the users, the clients and the listen address come from here. It is a
// module of its own so the gateway's go.mod never names zitadel, and the
// gateway binary never contains it.
//
//	oidcprovider -listen 127.0.0.1:PORT -users users.json \
//	  -client ID:SECRET:REDIRECT_URI [-client ...]
//
// users.json is the example's users file: {"ID": {"ID": "...", "Username":
// "...", "Password": "...", ...}}. The provider's issuer is
// http://LISTEN (no trailing slash); it prints `issuer URL` on stdout once
// it listens.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

type clientList []string

func (c *clientList) String() string     { return strings.Join(*c, ",") }
func (c *clientList) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "oidcprovider: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "listen address (loopback)")
	issuerFlag := flag.String("issuer", "", "issuer URL (default http://LISTEN), e.g. http://localhost:PORT to be another site than 127.0.0.1")
	usersFile := flag.String("users", "", "users file (JSON, the example server's format)")
	var clients clientList
	flag.Var(&clients, "client", "ID:SECRET:REDIRECT_URI of a confidential web client (repeatable)")
	flag.Parse()
	if *usersFile == "" || len(clients) == 0 {
		return errors.New("-users and at least one -client are required")
	}
	for _, c := range clients {
		id, rest, ok1 := strings.Cut(c, ":")
		secret, redirect, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || id == "" || redirect == "" {
			return fmt.Errorf("-client %q: want ID:SECRET:REDIRECT_URI", c)
		}
		storage.RegisterClients(storage.WebClient(id, secret, redirect))
	}
	users, err := storage.StoreFromFile(*usersFile)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	issuer := *issuerFlag
	if issuer == "" {
		issuer = "http://" + ln.Addr().String()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	router := exampleop.SetupServer(issuer, storage.NewStorage(users), log, false)
	fmt.Printf("issuer %s\n", issuer)
	return http.Serve(ln, router)
}
