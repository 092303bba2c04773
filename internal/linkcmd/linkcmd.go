// Package linkcmd is the share links' command line, one cobra command for
// both places it runs: `gateway link ...` on the gateway's host, for an
// administrator, and `ssh gw link ...` in an SSH session, for the
// session's user. internal/sharelink keeps the storage and the rules.
package linkcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/sharelink"
)

// Config is what the command acts on, and for whom.
type Config struct {
	// Service gives the link service when a subcommand runs (the
	// gateway's command line opens the store then, after its flags).
	Service func() (*sharelink.Service, error)
	// User is the user the command acts for: an SSH session's. "" is the
	// gateway's administrator, who names users with --user: create makes
	// a link for that user, list shows everyone's (with a USER column) or
	// one user's, revoke takes anyone's link.
	User string
	// Owner checks the --user of `create` for the administrator, "" for
	// the only user, and returns the user's name (required when User is "").
	Owner func(name string) (string, error)
	// Done, if set, is told of each link created or revoked (event is
	// audit.LinkCreate or audit.LinkRevoke), for the audit log.
	Done func(event string, l sharelink.Link)
}

// New returns the `link` command with create, list and revoke.
func New(cfg Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Manage share links: URLs that reach a forwarded service, expiring and revocable",
		Long: `A share link reaches one endpoint a user publishes (ssh -R myapp:80:localhost:3000 makes
the endpoint myapp:80; ssh -R 8080:localhost:3000 the endpoint 127.0.0.1:8080) through the
gateway's reverse proxy at /s/TOKEN/, for anyone who has the link, until it expires or is revoked.`,
		// Run with no subcommand, or with one that does not exist: a usage error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown subcommand %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError{errors.New("name a subcommand: create, list or revoke")}
		},
	}
	cmd.AddCommand(newCreate(cfg), newList(cfg), newRevoke(cfg))
	return cmd
}

func newCreate(cfg Config) *cobra.Command {
	var (
		p       sharelink.Params
		expires string
	)
	cmd := &cobra.Command{
		Use:   "create ENDPOINT",
		Short: "Make a share link and print its URL (shown only now: only a hash is stored)",
		Long: `Make a share link for ENDPOINT, one of your forwards: a virtual name like myapp:80 or a
published port like 127.0.0.1:41234 (a bare port means loopback).

The URL is printed on the first line. Its secret token is not stored and cannot be shown again.

--tcp makes a TCP link instead: the gateway's host and the port, for a port whose listener is
public by policy (published on a non-loopback address the user may listen on).`,
		Example: `  link create myapp:80 --expires 2h
  link create 127.0.0.1:41234 --basic-auth viewer:correct-horse
  link create 0.0.0.0:2222 --tcp`,
		Args: exactArgs(1, "name exactly one ENDPOINT"),
		RunE: withService(cfg, func(cmd *cobra.Command, args []string, svc *sharelink.Service) error {
			var err error
			p.User = cfg.User
			if p.User == "" {
				if p.User, err = cfg.Owner(owner(cmd)); err != nil {
					return err
				}
			}
			if p.Expires, err = sharelink.ParseExpiry(expires); err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			p.Endpoint = args[0]
			c, err := svc.Create(p)
			if err != nil {
				return err
			}
			if cfg.Done != nil {
				cfg.Done(audit.LinkCreate, c.Link)
			}
			WriteCreated(cmd.OutOrStdout(), c, svc.URLs)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&expires, "expires", "", "lifetime (`DURATION`: 30m, 2h or 7d; default 24h)")
	f.StringVar(&p.BasicAuth, "basic-auth", "", "`USER:PASS` that viewers must give")
	f.BoolVar(&p.LoginRequired, "login-required", false, "viewers must be logged in to the gateway")
	f.IntVar(&p.MaxUses, "max-uses", 0, "how many viewers may open the link (`N`, 0: no limit); a viewer's browser keeps its use in a cookie")
	f.StringVar(&p.Name, "name", "", "a host-name label: `NAME`.SHARE-DOMAIN serves the link (not a secret)")
	f.BoolVar(&p.TCP, "tcp", false, "a TCP link (gateway host:port) for a public listener")
	if cfg.User == "" {
		f.String("user", "", "the `USER` who publishes the endpoint (default: the only user)")
		cmd.Long = strings.Replace(cmd.Long, "one of your forwards", "one of the user's forwards", 1) +
			"\n\nThe endpoint need not be up yet; the link answers 502 while it is offline."
		lines := strings.Split(cmd.Example, "\n")
		for i, ln := range lines { // "  link create EP ..." -> "  gateway link create EP --user alice ..."
			f := strings.Fields(ln)
			lines[i] = "  " + strings.Join(slices.Concat([]string{"gateway"}, f[:3], []string{"--user", "alice"}, f[3:]), " ")
		}
		cmd.Example = strings.Join(lines, "\n")
	}
	return cmd
}

func newList(cfg Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List live share links",
		Args:    exactArgs(0, "list takes no arguments"),
		RunE: withService(cfg, func(cmd *cobra.Command, args []string, svc *sharelink.Service) error {
			user := cfg.User
			if user == "" {
				user = owner(cmd)
			}
			links, err := svc.Store.List(user)
			if err != nil {
				return err
			}
			WriteList(cmd.OutOrStdout(), links, svc.Store, svc.URLs, cfg.User == "")
			return nil
		}),
	}
	if cfg.User == "" {
		cmd.Flags().String("user", "", "only this user's links")
	}
	return cmd
}

func newRevoke(cfg Config) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ID",
		Aliases: []string{"rm"},
		Short:   "Revoke a share link; a running gateway cuts its live connections within a second",
		Args:    exactArgs(1, "name exactly one link ID"),
		RunE: withService(cfg, func(cmd *cobra.Command, args []string, svc *sharelink.Service) error {
			var l sharelink.Link
			if links, err := svc.Store.List(cfg.User); err == nil {
				for _, x := range links {
					if x.ID == args[0] {
						l = x
					}
				}
			}
			if err := svc.Store.Revoke(args[0], cfg.User); err != nil {
				return err
			}
			if cfg.Done != nil {
				l.ID = args[0]
				cfg.Done(audit.LinkRevoke, l)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		}),
	}
}

// withService runs run with the link service.
func withService(cfg Config, run func(cmd *cobra.Command, args []string, svc *sharelink.Service) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		svc, err := cfg.Service()
		if err != nil {
			return err
		}
		return run(cmd, args, svc)
	}
}

// owner is the administrator's --user.
func owner(cmd *cobra.Command) string {
	v, _ := cmd.Flags().GetString("user")
	return v
}

// usageError is a mistake in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s: %s", cmd.Name(), msg)}
		}
		return nil
	}
}

// Run runs the command as an SSH session's `link`, for user, and returns
// its exit status: 0, 1 for an error, 2 for a mistake in the command line
// (with the usage on stderr).
func Run(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) int {
	cmd := New(cfg)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{fmt.Errorf("%s: %w", c.Name(), err)} })
	err := cmd.ExecuteContext(ctx)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "link: %v\n%s", err, Usage(cmd))
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "link: %v\n", err)
		return 1
	}
	return 0
}

// Usage is a short usage of the command: a line per subcommand with its
// flags.
func Usage(cmd *cobra.Command) string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		line := "  " + cmd.Name() + " " + c.Use
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			name, _ := pflag.UnquoteUsage(f)
			if name != "" {
				name = " " + strings.ToUpper(name)
			}
			line += " [--" + f.Name + name + "]"
		})
		b.WriteString(line + "\n")
	}
	b.WriteString("ENDPOINT is one of your forwards: a virtual name like myapp:80 or a port like 127.0.0.1:41234.\n")
	return b.String()
}
