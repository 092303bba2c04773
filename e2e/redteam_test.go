package e2e

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The red-team attacks (make redteam) are the tests named TestRedteam*: each
// runs one attack from issue "Safe against its own users" against the built
// gateway and records a row (attack, expected, seen) with redteam. The rows
// are printed as one table when the run ends.

var redteamRows struct {
	sync.Mutex
	rows []redteamRow
}

type redteamRow struct {
	attack, expected, seen string
	failed                 bool
}

// redteam records the outcome of one attack for the table printed at the
// end of the run. It does not judge: the test's own assertions do, and a
// failed test's rows are marked.
func redteam(t *testing.T, attack, expected, seen string) {
	t.Helper()
	t.Cleanup(func() {
		redteamRows.Lock()
		defer redteamRows.Unlock()
		redteamRows.rows = append(redteamRows.rows, redteamRow{attack, expected, seen, t.Failed()})
	})
}

// printRedteamTable writes the table of recorded attacks, if any, to w.
func printRedteamTable(w io.Writer) {
	redteamRows.Lock()
	rows := append([]redteamRow(nil), redteamRows.rows...)
	redteamRows.Unlock()
	if len(rows) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].attack < rows[j].attack })
	wa, we := len("attack"), len("expected")
	for _, r := range rows {
		wa, we = max(wa, len(r.attack)), max(we, len(r.expected))
	}
	fmt.Fprintf(w, "\nred team: %d attacks against the built gateway\n", len(rows))
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", wa, "attack", we, "expected", "seen")
	fmt.Fprintf(w, "%s  %s  %s\n", strings.Repeat("-", wa), strings.Repeat("-", we), strings.Repeat("-", 4))
	for _, r := range rows {
		seen := r.seen
		if r.failed {
			seen = "FAILED: " + seen
		}
		fmt.Fprintf(w, "%-*s  %-*s  %s\n", wa, r.attack, we, r.expected, seen)
	}
}
