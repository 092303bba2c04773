package sharelink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/cluster"
)

// importScript stores one link from a data dir as it is: no cap is
// checked (the link exists already), a link already in Redis is left
// alone (an import run twice imports nothing twice), and a name taken by
// another link in Redis refuses the link.
//
//	KEYS: link, token (""), name (""), user's set, all, visits
//	ARGV: link JSON, expiry (ms), ID, visit hashes...
var importScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return 'name' end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PXAT', ARGV[2]) end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'PXAT', ARGV[2]) end
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[3])
for i = 4, #ARGV do redis.call('SADD', KEYS[6], ARGV[i]) end
if #ARGV >= 4 then redis.call('PEXPIREAT', KEYS[6], ARGV[2]) end
return 'ok'
`)

// ImportRedis moves the share links of data dir dataDir (links.db) into
// the cluster's Redis, for `gateway cluster import`: every live link with
// its uses, and the tombstones of revoked links (so their page still says
// "revoked"). It returns how many links it imported. Links already in
// Redis (a second run) are skipped; a link whose name another link holds
// in Redis is not imported, and named in the error. The data dir is left
// as it is.
func ImportRedis(ctx context.Context, dataDir string, c *cluster.Cluster) (int, error) {
	if !exists(filepath.Join(dataDir, "links.db")) && !exists(filepath.Join(dataDir, "links.json")) {
		return 0, nil // no links were ever made there
	}
	// No maximum of this gateway's applies: each link keeps its own expiry.
	src, err := Open(dataDir, Options{MaxExpiry: 100 * 365 * 24 * time.Hour})
	if err != nil {
		return 0, err
	}
	links, err := src.All()
	if err != nil {
		return 0, err
	}
	rdb := c.Client()
	now := time.Now()
	n := 0
	var refused []error
	for _, l := range links {
		if !now.Before(l.Expires) {
			continue
		}
		visits := l.Visits
		l.Visits = nil
		data, err := json.Marshal(l)
		if err != nil {
			return n, err
		}
		keys := []string{linkKey(l.ID), orNone(l.TokenHash != "", tokenKey(l.TokenHash)), orNone(l.Name != "", nameKey(l.Name)),
			userLinksKey(l.User), allLinksKey, visitsKey(l.ID)}
		args := []any{data, l.Expires.UnixMilli(), l.ID}
		for _, v := range visits {
			args = append(args, v)
		}
		cctx, cancel := context.WithTimeout(ctx, redisTimeout)
		status, err := importScript.Run(cctx, rdb, keys, args...).Text()
		cancel()
		if err != nil {
			return n, fmt.Errorf("import share link %s: %w", l.ID, cluster.Wrap(err))
		}
		switch status {
		case "ok":
			n++
		case "name":
			refused = append(refused, fmt.Errorf("link %s (user %s): its name %q is another link's in redis", l.ID, l.User, l.Name))
		}
	}
	src.mu.Lock()
	graves := make(map[string]time.Time, len(src.revoked))
	for h, until := range src.revoked {
		graves[h] = until
	}
	src.mu.Unlock()
	pipe := rdb.Pipeline()
	for h, until := range graves {
		if now.Before(until) {
			pipe.SetNX(ctx, graveKey(h), "1", 0)
			pipe.PExpireAt(ctx, graveKey(h), until)
		}
	}
	if pipe.Len() > 0 {
		cctx, cancel := context.WithTimeout(ctx, 2*redisTimeout)
		_, err := pipe.Exec(cctx)
		cancel()
		if err != nil {
			return n, fmt.Errorf("import revoked share links: %w", cluster.Wrap(err))
		}
	}
	if len(refused) > 0 {
		return n, fmt.Errorf("%d share links not imported: %w", len(refused), errors.Join(refused...))
	}
	return n, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
