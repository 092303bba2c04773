package main

import (
	"strings"
	"testing"
)

// --cluster-ca (like --node-id and --node-addr) means nothing on a single
// node: refused before anything starts, from the flag or the environment.
func TestServeClusterCANeedsCluster(t *testing.T) {
	args := []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--cluster-ca", "ca.pem"}
	if _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), "need --cluster") {
		t.Errorf("--cluster-ca without --cluster: %v", err)
	}
	t.Setenv("GATEWAY_CLUSTER_CA", "ca.pem")
	if _, err := run(t, "", args[:5]...); err == nil || !strings.Contains(err.Error(), "need --cluster") {
		t.Errorf("GATEWAY_CLUSTER_CA without --cluster: %v", err)
	}
}
