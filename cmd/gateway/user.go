package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	osuser "os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/users"
)

func newUser() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the gateway's users and their forwarding policy",
		Long: `Users live in the data dir (users.json), or with --cluster URL (GATEWAY_CLUSTER) in
the cluster's Redis. A running gateway picks up changes without a restart, on the
next login or forward request; every node of a cluster does.`,
	}
	cmd.AddCommand(newUserAdd(), newUserSet(), newUserList(), newUserDel(), newUserSessions())
	return cmd
}

func newUserAdd() *cobra.Command {
	var (
		st                 stateOpts
		keyFiles           []string
		passwordStdin      bool
		permitOpen, listen []string
		names              []string
		admin, sso         bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Long: `Add a user who logs in with public keys (--key, an authorized_keys or .pub file,
repeatable) and/or a password (--password-stdin reads it from standard input),
or (--sso) only to the page, through the gateway's single sign-on.

Policy, in OpenSSH's permitopen / permitlisten style:
  --permit-open HOST:PORT     a real destination the gateway may dial for the user (ssh -L/-J/-W);
                              * is allowed for host or port, HOST may be an address or CIDR
                              prefix. NAME@OWNER:PORT reaches user OWNER's virtual name NAME
                              (NAME may be a glob). Default: nothing.
  --permit-listen [HOST:]PORT where the user may publish with ssh -R. Default: any
                              unprivileged loopback port.
  --permit-name GLOB          virtual names the user may publish besides their own namespace
                              (NAME and *.NAME for user NAME: myhost.alice). A glob never takes
                              another user's namespace or a name their --permit-name gives exactly.`,
		Example: `  gateway user add alice --key ~/.ssh/id_ed25519.pub --permit-name myhost
  echo 's3cret-pass' | gateway user add bob --password-stdin --permit-open myhost@alice:22`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := users.User{Name: args[0], Admin: admin, PermitOpen: permitOpen, PermitListen: listen, PermitName: names}
			for _, f := range keyFiles {
				data, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				keys, err := users.ParseKeys(data)
				if err != nil {
					return fmt.Errorf("--key %s: %w", f, err)
				}
				u.Keys = append(u.Keys, keys...)
			}
			if passwordStdin {
				pw, err := readPassword(cmd)
				if err != nil {
					return err
				}
				if u.PasswordHash, err = users.HashPassword(pw); err != nil {
					return err
				}
			}
			store, _, err := st.users(cmd.Context())
			if err != nil {
				return err
			}
			create := store.Create
			if sso {
				create = store.CreateSSO
			}
			if err := create(u, store.Actor()); err != nil {
				if errors.Is(err, users.ErrNoLogin) {
					return fmt.Errorf("%w (--key FILE, --password-stdin; or --sso: single sign-on only)", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %s\n", u.Name)
			return nil
		},
	}
	stateFlags(cmd, &st)
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "public key file (authorized_keys format); repeatable")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read a password from standard input")
	cmd.Flags().StringArrayVar(&permitOpen, "permit-open", nil, "HOST:PORT the user may connect to; repeatable")
	cmd.Flags().StringArrayVar(&listen, "permit-listen", nil, "[HOST:]PORT the user may listen on; repeatable")
	cmd.Flags().StringArrayVar(&names, "permit-name", nil, "GLOB of virtual names the user may publish beyond their namespace; repeatable")
	cmd.Flags().BoolVar(&admin, "admin", false, "make the user an administrator")
	cmd.Flags().BoolVar(&sso, "sso", false, "the user needs no key or password: they sign in to the page through single sign-on (serve --oidc-issuer)")
	return cmd
}

func readPassword(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("--password-stdin: no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newUserList() *cobra.Command {
	var st stateOpts
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users with their login methods and policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := st.users(cmd.Context())
			if err != nil {
				return err
			}
			list, err := store.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADMIN\tLOGIN\tPERMIT-OPEN\tPERMIT-LISTEN\tPERMIT-NAME")
			for _, u := range list {
				var login []string
				if len(u.Keys) > 0 {
					login = append(login, fmt.Sprintf("%d key(s)", len(u.Keys)))
				}
				if u.PasswordHash != "" {
					login = append(login, "password")
				}
				listen := "default"
				if u.PermitListen != nil {
					listen = orNone(u.PermitListen)
				}
				names := append([]string{u.Name, "*." + u.Name}, u.PermitName...)
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", u.Name, u.Admin, orNone(login), orNone(u.PermitOpen), listen,
					strings.Join(names, ","))
			}
			return tw.Flush()
		},
	}
	stateFlags(cmd, &st)
	return cmd
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func newUserDel() *cobra.Command {
	var st stateOpts
	cmd := &cobra.Command{
		Use:   "del NAME",
		Short: "Delete a user; a running gateway closes their tubes and forwards within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := st.users(cmd.Context())
			if err != nil {
				return err
			}
			if err := store.DeleteBy(args[0], store.Actor()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
			return nil
		},
	}
	stateFlags(cmd, &st)
	return cmd
}

// openUsers opens the users of data dir data for a command that changes
// them: the changes are journaled as by "cli:OSUSER", which a running
// gateway writes to its audit log.
func openUsers(data string) (*users.Store, error) {
	store, err := users.Open(data)
	if err != nil {
		return nil, err
	}
	store.SetActor(users.Actor{By: "cli:" + osUserName()})
	return store, nil
}

// osUserName is who runs the command, for the journal.
func osUserName() string {
	if u, err := osuser.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
