package cluster

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/forward"
)

// DefaultMaxList is DirectoryConfig.MaxList's default.
const DefaultMaxList = 1024

// userKey is the Redis key of user's index: tubegate:epu:alice, a set of
// the addresses (forward.Address.String) of the endpoints alice claimed.
// The index is a hint kept in step with claims, releases and refreshes;
// the endpoint's own key is the truth: a member whose endpoint key is gone
// (expired, released unheard) or held by another user is dropped when
// read.
func userKey(user string) string { return Key("epu", user) }

// pruneScript: KEYS[1] a user's index; ARGV the user, the prefix of
// endpoint keys, then members. Takes out of the index each member whose
// endpoint key is gone or no longer the user's, checked again here so
// that a member claimed anew since it was read stays.
var pruneScript = redis.NewScript(`
local n = 0
for i = 3, #ARGV do
  local v = redis.call('GET', ARGV[2] .. ARGV[i])
  local keep = false
  if v then
    local ok, r = pcall(cjson.decode, v)
    keep = ok and type(r) == 'table' and r.user == ARGV[1]
  end
  if not keep then
    redis.call('SREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)

// List returns the claims, on every node this one included, of the
// endpoints that users publish (read from their indexes, at most MaxList
// per user) and of the endpoints at keys, ordered by address. It reads
// Redis in at most three round trips, and fails at once with "cluster
// unavailable: redis unreachable" while the health loop finds Redis down.
func (d *Directory) List(ctx context.Context, users []string, keys []forward.Address) ([]forward.Claim, error) {
	if err := d.c.Health(); err != nil {
		return nil, unavailable("list", err)
	}
	if len(users) == 0 && len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	rdb := d.c.Client()
	members := make([]*redis.StringSliceCmd, len(users))
	if len(users) > 0 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, u := range users {
				members[i] = p.SRandMemberN(ctx, userKey(u), int64(d.cfg.MaxList))
			}
			return nil
		})
		if err != nil {
			return nil, unavailable("list the endpoints of "+fmt.Sprint(users), err)
		}
	}
	// Every endpoint key to read, once: the indexes' members, then keys.
	var epKeys []string
	at := map[string]int{}
	add := func(addr string) {
		if _, ok := at[addr]; !ok {
			at[addr] = len(epKeys)
			epKeys = append(epKeys, Key("ep", addr))
		}
	}
	for _, m := range members {
		for _, addr := range m.Val() {
			add(addr)
		}
	}
	for _, k := range keys {
		add(k.String())
	}
	if len(epKeys) == 0 {
		return nil, nil
	}
	vals, err := rdb.MGet(ctx, epKeys...).Result()
	if err != nil {
		return nil, unavailable("read endpoint records", err)
	}
	claims := make([]*forward.Claim, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			if c, err := decode(s); err == nil {
				claims[i] = &c
			}
		}
	}
	out := make([]forward.Claim, 0, len(vals))
	taken := make([]bool, len(vals))
	take := func(i int) {
		if !taken[i] {
			taken[i] = true
			out = append(out, *claims[i])
		}
	}
	for ui, m := range members {
		var dead []string
		for _, addr := range m.Val() {
			i := at[addr]
			if claims[i] == nil || claims[i].User != users[ui] {
				dead = append(dead, addr)
				continue
			}
			take(i)
		}
		d.prune(ctx, users[ui], dead)
	}
	for _, k := range keys {
		if i := at[k.String()]; claims[i] != nil {
			take(i)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out, nil
}

// prune drops dead members from user's index, best effort: a member left
// is dropped at a later read.
func (d *Directory) prune(ctx context.Context, user string, dead []string) {
	if len(dead) == 0 {
		return
	}
	args := append([]any{user, Key("ep", "")}, anySlice(dead)...)
	if err := pruneScript.Run(ctx, d.c.Client(), []string{userKey(user)}, args...).Err(); err != nil {
		d.log.Debug("endpoint directory: pruning a user's index failed; retried at the next read", "user", user,
			"err", Wrap(err))
	}
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
