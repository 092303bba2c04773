package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

func newUserSessions() *cobra.Command {
	var (
		st     stateOpts
		revoke bool
	)
	cmd := &cobra.Command{
		Use:   "sessions NAME",
		Short: "List a user's web sessions; --revoke ends them all",
		Long: `List the web sessions of a user: id, when it was made, when it expires, and the
address the login came from (the time a session was last used is not kept).

--revoke ends every one of them: a running gateway refuses them and closes the browser
tubes opened from them within a second. A new password, a removed key (gateway user set)
and deleting the user do the same.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, shared, err := st.users(cmd.Context())
			if err != nil {
				return err
			}
			revokeSessions, listSessions := webauth.RevokeSessions, webauth.ListSessions
			if shared != nil {
				revokeSessions = func(_ string, us *users.Store, user string) (int, error) {
					return webauth.RevokeSharedSessions(shared, us, user)
				}
				listSessions = func(_ string, us *users.Store, user string) ([]webauth.SessionInfo, error) {
					return webauth.ListSharedSessions(shared, us, user)
				}
			}
			if revoke {
				n, err := revokeSessions(st.data, store, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ended %d web session(s) of %s\n", n, args[0])
				return nil
			}
			list, err := listSessions(st.data, store, args[0])
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s has no web sessions\n", args[0])
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tSOURCE")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Created.Local().Format(time.RFC3339),
					s.Expires.Local().Format(time.RFC3339), orNone(nonEmpty(s.Source)))
			}
			return tw.Flush()
		},
	}
	stateFlags(cmd, &st)
	cmd.Flags().BoolVar(&revoke, "revoke", false, "end every web session of the user")
	return cmd
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
