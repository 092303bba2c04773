// Command gateway is Tubegate: a browser-to-host SSH tunnel gateway.
// Run `gateway --help` for the subcommands.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "gateway",
		Short: "Tubegate: SSH tunnels to your hosts from a browser or through an HTTPS-only network",
		Long: `Tubegate is a browser-to-host tunnel gateway. One binary is an HTTP server and an
SSH server at once; SSH reaches it over a WebSocket (/ssh) or plain TCP.

Every flag can also be set with an environment variable: GATEWAY_ and the
flag's name in upper case with - as _ (for example GATEWAY_SSH_LISTEN).`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd)
		},
	}
	root.AddCommand(newServe(), newConnect(), newTunnel(), newUser(), newLink(), newCluster())
	return root
}

// bindEnv sets every flag the command line left unset from its GATEWAY_*
// environment variable.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		env := "GATEWAY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			err = sv.Replace(splitList(v))
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			err = fmt.Errorf("%s=%q: %w", env, v, err)
		}
	})
	return err
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// The --data flag every command that touches state has.
const (
	defaultData = "./gateway-data"
	dataUsage   = "state directory: host keys, users, sessions, links"
)

// dataFlag adds --data to cmd.
func dataFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "data", defaultData, dataUsage)
}
