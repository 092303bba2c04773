package shareproxy

import (
	"context"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

// watch polls every interval until ctx ends, cutting the connections of
// each link for which live reports false: revoked (also from another
// process, such as `gateway link revoke`) or expired. cut is told about
// each link cut, for logging.
func watch(ctx context.Context, conns *forward.ConnsByKey, interval time.Duration, live func(id string) bool, cut func(id string, n int)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, id := range conns.Keys() {
			if !live(id) {
				if n := conns.Cut(id); n > 0 && cut != nil {
					cut(id, n)
				}
			}
		}
	}
}
