package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/users"
)

func newUserSet() *cobra.Command {
	var (
		st                   stateOpts
		addKeys, removeKeys  []string
		passwordStdin, noPW  bool
		permitOpen, listen   []string
		clearOpen, defListen bool
		admin                bool
		names                []string
		defNames             bool
	)
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Change a user's keys, password, policy or admin flag",
		Long: `Change an existing user. Only what is given changes:
  --key FILE            add the keys in FILE (repeatable)
  --remove-key FILE     remove the keys in FILE (repeatable)
  --password-stdin      set the password from standard input; --no-password removes it
  --permit-open H:P     replace the permit-open list (repeatable); --clear-permit-open empties it
  --permit-listen [H:]P replace the permit-listen list (repeatable); --default-listen restores
                        the default (any unprivileged loopback port)
  --permit-name GLOB    replace the extra virtual names the user may publish (repeatable);
                        --default-names leaves only their namespace (NAME, *.NAME)
  --admin=true|false    make or unmake an administrator
A running gateway applies the change to the user's next request, live tubes included.
A new or removed password and a removed key end the user's web sessions, and the
browser tubes opened from them, within a second.`,
		Example: `  gateway user set bob --permit-open myhost@alice:22 --permit-open 10.0.0.0/8:443
  gateway user set alice --permit-name myhost --permit-name 'db-*'
  gateway user set alice --key new_laptop.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var keys []string
			for _, file := range addKeys {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				k, err := users.ParseKeys(b)
				if err != nil {
					return fmt.Errorf("--key %s: %w", file, err)
				}
				keys = append(keys, k...)
			}
			var drop []string
			for _, file := range removeKeys {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--remove-key: %w", err)
				}
				k, err := users.ParseKeys(b)
				if err != nil {
					return fmt.Errorf("--remove-key %s: %w", file, err)
				}
				drop = append(drop, k...)
			}
			var hash string
			if passwordStdin {
				pw, err := readPassword(cmd)
				if err != nil {
					return err
				}
				if hash, err = users.HashPassword(pw); err != nil {
					return err
				}
			}
			e := users.Edit{AddKeys: keys, RemoveKeys: drop, PasswordHash: hash, NoPassword: noPW}
			if f.Changed("permit-open") || clearOpen {
				e.PermitOpen = &permitOpen
			}
			if f.Changed("permit-listen") {
				e.PermitListen = &listen
			} else if defListen {
				e.PermitListen = new([]string)
			}
			if f.Changed("permit-name") {
				e.PermitName = &names
			} else if defNames {
				e.PermitName = new([]string)
			}
			if f.Changed("admin") {
				e.Admin = &admin
			}
			store, _, err := st.users(cmd.Context())
			if err != nil {
				return err
			}
			if err := store.Set(args[0], e, store.Actor()); err != nil {
				if _, ok := errors.AsType[*users.KeyNotFoundError](err); ok {
					return fmt.Errorf("--remove-key: %w", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "updated user %s\n", args[0])
			return nil
		},
	}
	stateFlags(cmd, &st)
	f := cmd.Flags()
	f.StringArrayVar(&addKeys, "key", nil, "add the public keys in FILE; repeatable")
	f.StringArrayVar(&removeKeys, "remove-key", nil, "remove the public keys in FILE; repeatable")
	f.BoolVar(&passwordStdin, "password-stdin", false, "set the password from standard input")
	f.BoolVar(&noPW, "no-password", false, "remove the password")
	f.StringArrayVar(&permitOpen, "permit-open", nil, "replace permit-open with these HOST:PORT rules; repeatable")
	f.BoolVar(&clearOpen, "clear-permit-open", false, "empty permit-open: the user may dial nothing")
	f.StringArrayVar(&listen, "permit-listen", nil, "replace permit-listen with these [HOST:]PORT rules; repeatable")
	f.BoolVar(&defListen, "default-listen", false, "restore the default permit-listen")
	f.StringArrayVar(&names, "permit-name", nil, "replace the extra virtual names the user may publish with these GLOBs; repeatable")
	f.BoolVar(&defNames, "default-names", false, "only the user's own namespace (NAME, *.NAME) again")
	f.BoolVar(&admin, "admin", false, "administrator: --admin=true or --admin=false")
	cmd.MarkFlagsMutuallyExclusive("password-stdin", "no-password")
	cmd.MarkFlagsMutuallyExclusive("permit-open", "clear-permit-open")
	cmd.MarkFlagsMutuallyExclusive("permit-listen", "default-listen")
	cmd.MarkFlagsMutuallyExclusive("permit-name", "default-names")
	return cmd
}
