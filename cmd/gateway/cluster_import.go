package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/state"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

func newCluster() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Manage a cluster of gateways that share their state through Redis",
	}
	cmd.AddCommand(newClusterImport())
	return cmd
}

// importer moves one part of a data dir into the cluster and says how
// many items it moved.
type importer struct {
	what string
	run  func(ctx context.Context, dataDir string, c *cluster.Cluster) (int, error)
	// keys is a Redis pattern (SCAN MATCH) of the keys the part is kept
	// in: any of them makes the cluster non-empty.
	keys string
}

// importers are the parts of a data dir `gateway cluster import` moves,
// in order. Each is idempotent: run again (--force), it writes the same.
func importers() []importer {
	doc := func(name string, check func([]byte) (int, error)) func(context.Context, string, *cluster.Cluster) (int, error) {
		return func(ctx context.Context, dir string, c *cluster.Cluster) (int, error) {
			return importDoc(ctx, state.New(c), dir, name, check)
		}
	}
	one := func(check func([]byte) error) func([]byte) (int, error) {
		return func(b []byte) (int, error) { return 1, check(b) }
	}
	list := []importer{
		{"users", doc(users.File, users.CheckFile), state.DocKey(users.File)},
		{"session keys", doc(webauth.KeysFile, one(webauth.CheckKeys)), state.DocKey(webauth.KeysFile)},
		{"web sessions", doc(webauth.SessionsFile, webauth.CheckSessions), state.DocKey(webauth.SessionsFile)},
		{"revoked web sessions", doc(webauth.RevokedFile, webauth.CheckRevoked), state.DocKey(webauth.RevokedFile)},
	}
	for _, f := range hostkeys.Files() {
		list = append(list, importer{"host key " + f, doc(f, one(hostkeys.Check)), state.DocKey(f)})
	}
	// Share links join here, at merge:
	list = append(list, importer{"share links", sharelink.ImportRedis, cluster.Key("link*")})
	return list
}

// importDoc copies the data dir's file name, if there is one, into the
// cluster's document of the same name, once check accepts it.
func importDoc(ctx context.Context, st *state.Store, dir, name string, check func([]byte) (int, error)) (int, error) {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := check(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if err := st.Put(ctx, name, data); err != nil {
		return 0, err
	}
	return n, nil
}

func newClusterImport() *cobra.Command {
	var (
		st    stateOpts
		force bool
	)
	cmd := &cobra.Command{
		Use:   "import --data DIR --cluster URL",
		Short: "Move a single gateway's data dir into a cluster's Redis",
		Long: `import copies a single gateway's state from its data dir into the cluster's Redis,
where every node of the cluster finds it: users and their policy, the SSH host keys
(so clients see the same fingerprints), the session cookie keys, the web sessions and
the logged-out ones. The data dir is only read. It refuses a cluster that already holds
any of these (a node that started on it made its own) unless --force, which replaces
them with the data dir's.`,
		Example: `  gateway cluster import --data ./gateway-data --cluster redis://10.0.0.2:6379`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if st.cluster == "" {
				return errors.New("--cluster URL is required (or GATEWAY_CLUSTER)")
			}
			if _, err := os.Stat(st.data); err != nil {
				return fmt.Errorf("--data: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cliOpenTimeout)
			defer cancel()
			cl, err := cluster.Open(ctx, cluster.Config{URL: st.cluster, NodeID: "cli-" + cluster.DefaultNodeID()})
			if err != nil {
				return err
			}
			defer cl.Close()
			list := importers()
			if !force {
				held, err := clusterHolds(cmd.Context(), cl, list)
				if err != nil {
					return err
				}
				if held != "" {
					return fmt.Errorf("the cluster already holds %s: nothing imported (--force replaces it with the data dir's)", held)
				}
			}
			for _, im := range list {
				n, err := im.run(cmd.Context(), st.data, cl)
				if err != nil {
					return fmt.Errorf("import %s: %w", im.what, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d\n", im.what, n)
			}
			return nil
		},
	}
	dataFlag(cmd, &st.data)
	cmd.Flags().StringVar(&st.cluster, "cluster", "", "the cluster's Redis: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://")
	cmd.Flags().BoolVar(&force, "force", false, "replace what the cluster holds with the data dir's")
	return cmd
}

// clusterHolds names the first part the cluster already holds, or "".
func clusterHolds(ctx context.Context, cl *cluster.Cluster, list []importer) (string, error) {
	for _, im := range list {
		for cursor := uint64(0); ; {
			page, next, err := cl.Client().Scan(ctx, cursor, im.keys, 1000).Result()
			if err != nil {
				return "", fmt.Errorf("look into the cluster: %w", cluster.Wrap(err))
			}
			if len(page) > 0 {
				return im.what + " (" + page[0] + ")", nil
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return "", nil
}
