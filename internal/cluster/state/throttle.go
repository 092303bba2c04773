package state

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/cluster"
)

// Throttle is the cluster-wide count of wrong passwords per source
// (throttle.Shared): the hash tubegate:throttle:SOURCE holds n (attempts
// counted in the window) and w (the window's random id); it expires with
// the window, which starts with the source's first attempt.
type Throttle struct {
	c *cluster.Cluster
}

// NewThrottle returns the password throttle's count in cluster c.
func NewThrottle(c *cluster.Cluster) *Throttle { return &Throttle{c: c} }

// ThrottleKey is the Redis key of source's count.
func ThrottleKey(source string) string { return cluster.Key("throttle", source) }

// reserveScript takes one attempt: KEYS[1] the source's hash, ARGV max,
// window (ms), a fresh window id. It answers {1 or 0, window id}.
var reserveScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n == 1 then
  redis.call('HSET', KEYS[1], 'w', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local w = redis.call('HGET', KEYS[1], 'w')
if n > tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
  return {0, w}
end
return {1, w}
`)

// refundScript gives an attempt back to window ARGV[1], if it is the
// source's window still; a window with none left counted ends.
var refundScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'w') ~= ARGV[1] then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
if n <= 0 then redis.call('DEL', KEYS[1]) end
return 1
`)

// Reserve takes one of source's max attempts per window.
func (t *Throttle) Reserve(ctx context.Context, source string, max int, window time.Duration) (string, bool, error) {
	if err := healthy(t.c); err != nil {
		return "", false, err
	}
	res, err := reserveScript.Run(ctx, t.c.Client(), []string{ThrottleKey(source)},
		max, window.Milliseconds(), newRev()).Slice()
	if err != nil {
		return "", false, fmt.Errorf("password throttle: %w", fail(err))
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("password throttle: script answered %v", res)
	}
	ok, _ := res[0].(int64)
	id, _ := res[1].(string)
	return id, ok == 1, nil
}

// Refund gives back an attempt Reserve counted in window id.
func (t *Throttle) Refund(ctx context.Context, source, id string) error {
	if err := refundScript.Run(ctx, t.c.Client(), []string{ThrottleKey(source)}, id).Err(); err != nil {
		return fmt.Errorf("password throttle: %w", fail(err))
	}
	return nil
}
