package sharelink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// commandUsage is printed for `ssh gw link` with no or bad arguments.
const commandUsage = `usage:
  link create ENDPOINT [--expires 2h] [--basic-auth USER:PASS] [--login-required] [--name NAME] [--tcp]
  link list
  link revoke ID
ENDPOINT is one of your forwards: a virtual name like myapp:80 or a port like 127.0.0.1:41234.
`

// Run is the `link` command of an SSH session (ssh gw link ...), run as
// user. It returns the exit status.
func (s *Service) Run(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, commandUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "create":
		err = s.runCreate(user, args[1:], stdout)
	case "list", "ls":
		err = s.runList(user, stdout)
	case "revoke", "rm":
		if len(args) != 2 {
			fmt.Fprint(stderr, commandUsage)
			return 2
		}
		if err = s.Store.Revoke(args[1], user); err == nil {
			fmt.Fprintf(stdout, "revoked %s\n", args[1])
		}
	case "help", "--help", "-h":
		fmt.Fprint(stdout, commandUsage)
	default:
		fmt.Fprintf(stderr, "link: unknown subcommand %q\n%s", args[0], commandUsage)
		return 2
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "link: %v\n%s", err, commandUsage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "link: %v\n", err)
		return 1
	}
	return 0
}

// usageError is a mistake in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func (s *Service) runCreate(user string, args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("link create", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	expires := fs.String("expires", "", "lifetime, e.g. 2h or 7d (default 24h)")
	basic := fs.String("basic-auth", "", "USER:PASS viewers must give")
	login := fs.Bool("login-required", false, "viewers must be logged in to the gateway")
	name := fs.String("name", "", "host-name label under the share domain")
	tcp := fs.Bool("tcp", false, "a TCP link to a public port")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Errorf("create: %w", err)}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("create: name exactly one ENDPOINT")}
	}
	life, err := ParseExpiry(*expires)
	if err != nil {
		return err
	}
	c, err := s.Create(Params{User: user, Endpoint: fs.Arg(0), Expires: life, BasicAuth: *basic,
		LoginRequired: *login, Name: *name, TCP: *tcp})
	if err != nil {
		return err
	}
	WriteCreated(stdout, c, s.URLs)
	return nil
}

func (s *Service) runList(user string, stdout io.Writer) error {
	links, err := s.Store.List(user)
	if err != nil {
		return err
	}
	WriteList(stdout, links, s.Store, s.URLs, false)
	return nil
}

// WriteCreated prints a new link: its URL on the first line, alone, so
// scripts can take it with head -1, then the details.
func WriteCreated(w io.Writer, c Created, u URLs) {
	fmt.Fprintln(w, c.URL)
	fmt.Fprintf(w, "id %s  endpoint %s  expires %s", c.ID, c.Endpoint, c.Expires.Local().Format(time.RFC3339))
	if c.Kind == KindHTTP {
		if c.PathURL != c.URL {
			fmt.Fprintf(w, "\nalso at %s", c.PathURL)
		}
		if c.Name != "" && u.Host(c.Name) != "" {
			fmt.Fprintf(w, "\nnamed   %s", u.Host(c.Name))
		}
		fmt.Fprintf(w, "\nthe secret part of this URL is not stored and cannot be shown again")
	}
	fmt.Fprintln(w)
}

// WriteList prints links as a table; withUser adds the owner column.
func WriteList(w io.Writer, links []Link, s *Store, u URLs, withUser bool) {
	if len(links) == 0 {
		fmt.Fprintln(w, "no share links")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if withUser {
		fmt.Fprint(tw, "ID\tUSER\tENDPOINT\tKIND\tEXPIRES\tGUARDS\tURL\n")
	} else {
		fmt.Fprint(tw, "ID\tENDPOINT\tKIND\tEXPIRES\tGUARDS\tURL\n")
	}
	for _, l := range links {
		guards := "-"
		switch {
		case l.HasBasicAuth() && l.LoginRequired:
			guards = "basic-auth,login"
		case l.HasBasicAuth():
			guards = "basic-auth"
		case l.LoginRequired:
			guards = "login"
		}
		url := u.Listed(l)
		if url == "" {
			url = "(shown at creation only)"
		}
		exp := s.ExpiresAt(&l).Local().Format(time.RFC3339)
		if withUser {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.User, l.Endpoint, l.Kind, exp, guards, url)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Endpoint, l.Kind, exp, guards, url)
		}
	}
	tw.Flush()
}
