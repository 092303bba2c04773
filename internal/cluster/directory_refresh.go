package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/forward"
)

// The directory's scripts match a record by its claim ID (cjson.decode in
// a pcall, so that a malformed record is somebody else's, never an error).
const matchID = `
local function mine(v, id)
  local ok, r = pcall(cjson.decode, v)
  return ok and type(r) == 'table' and r.id == id
end
`

// Every script that writes or extends a claim also adds the endpoint to
// its user's index (KEYS[2], tubegate:epu:{user}) and extends the index
// to the TTL, so that the index outlives none of its user's claims by more
// than the TTL; see directory_list.go.

// claimScript: KEYS[1] the endpoint, KEYS[2] its user's index; ARGV
// value, TTL in ms, the ID of the claim to replace ("" for none), and the
// endpoint's address (the index's member). Sets the key when it is free
// or holds that claim and returns 1; else returns the holder's record.
var claimScript = redis.NewScript(matchID + `
local v = redis.call('GET', KEYS[1])
if v and (ARGV[3] == '' or not mine(v, ARGV[3])) then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`)

// releaseScript: deletes KEYS[1] if it holds claim ARGV[1], and takes
// ARGV[2] (the endpoint's address) out of its user's index KEYS[2].
var releaseScript = redis.NewScript(matchID + `
local v = redis.call('GET', KEYS[1])
if v and mine(v, ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
return 0
`)

// refreshScript: KEYS[1] the endpoint, KEYS[2] its user's index; ARGV
// claim ID, value, TTL in ms, the endpoint's address. Extends the claim
// if the key still holds it (1), sets it again if the key is gone (2:
// Redis restarted empty, was flushed, or the claim expired while this
// node could not reach it), else returns the record of the newer claim
// that holds it. In the first two cases the index holds the endpoint
// again and lives for the TTL.
var refreshScript = redis.NewScript(matchID + `
local v = redis.call('GET', KEYS[1])
local res = 1
if not v then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  res = 2
elseif mine(v, ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  return v
end
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return res
`)

// Run keeps this node's claims alive until ctx ends: every Refresh, and
// at once when Redis answers again (see Kick).
func (d *Directory) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
		d.refresh(ctx)
	}
}

// Kick asks Run for a refresh now (the cluster's health loop does, when
// Redis answers again).
func (d *Directory) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

type heldKey struct {
	key string
	held
}

// refresh extends every claim of this node in one pipeline, re-registers
// the ones Redis lost, and gives up the ones a newer claim took.
func (d *Directory) refresh(ctx context.Context) {
	d.mu.Lock()
	claims := make([]heldKey, 0, len(d.held))
	for k, h := range d.held {
		claims = append(claims, heldKey{k, h})
	}
	orphans := make(map[string]orphan, len(d.orphans))
	for k, o := range d.orphans {
		orphans[k] = o
	}
	d.mu.Unlock()
	d.releaseOrphans(ctx, orphans)
	if len(claims) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	ttl := d.cfg.TTL.Milliseconds()
	cmds := make([]*redis.Cmd, len(claims))
	_, err := d.c.Client().Pipelined(rctx, func(p redis.Pipeliner) error {
		for i, c := range claims {
			cmds[i] = refreshScript.Eval(rctx, p, []string{c.key, userKey(c.claim.User)}, c.claim.ID, c.value, ttl,
				c.claim.Key.String())
		}
		return nil
	})
	if err != nil && isUnavailable(err) {
		d.failures.Add(1)
		d.log.Debug("endpoint directory: refresh failed; claims kept, re-registered when redis answers",
			"claims", len(claims), "err", Wrap(err))
		return
	}
	for i, c := range claims {
		res, err := cmds[i].Result()
		if err != nil {
			d.failures.Add(1)
			d.log.Info("endpoint directory: refresh of a claim failed", "endpoint", c.claim.Key, "err", Wrap(err))
			continue
		}
		switch v := res.(type) {
		case int64:
			if v == 2 {
				d.reRegistered(ctx, c)
			}
		case string:
			d.lose(c, v)
		}
	}
}

func isUnavailable(err error) bool { return errors.Is(Wrap(err), ErrUnavailable) }

// reRegistered follows a claim the refresh wrote again: unless it was
// released meanwhile (then it is deleted again), it is logged.
func (d *Directory) reRegistered(ctx context.Context, c heldKey) {
	d.mu.Lock()
	h, ok := d.held[c.key]
	d.mu.Unlock()
	if !ok || h.claim.ID != c.claim.ID {
		d.releaseKey(ctx, c.claim)
		return
	}
	d.log.Info("endpoint directory: claim re-registered (redis had lost it)", "endpoint", c.claim.Key,
		"tube", c.claim.Tube)
}

// lose gives up c, held now by the record v: the newer claim wins.
func (d *Directory) lose(c heldKey, v string) {
	if !d.forget(c.key, c.claim.ID) {
		return // released meanwhile
	}
	holder, err := decode(v)
	if err != nil {
		holder = forward.Claim{Key: c.claim.Key, Node: "(unreadable record)"}
	}
	d.log.Warn("endpoint directory: claim lost to a newer one on another node", "endpoint", c.claim.Key,
		"tube", c.claim.Tube, "holder_node", holder.Node, "holder_tube", holder.Tube)
	d.mu.Lock()
	hooks := append([]func(lost, holder forward.Claim){}, d.lost...)
	d.mu.Unlock()
	for _, fn := range hooks {
		fn(c.claim, holder)
	}
}

// releaseOrphans retries the releases Redis did not hear of.
func (d *Directory) releaseOrphans(ctx context.Context, orphans map[string]orphan) {
	now := time.Now()
	for key, o := range orphans {
		if now.Before(o.until) && d.releaseKey(ctx, o.claim) != nil {
			continue
		}
		d.mu.Lock()
		if cur, ok := d.orphans[key]; ok && cur.claim.ID == o.claim.ID {
			delete(d.orphans, key)
		}
		d.mu.Unlock()
	}
}
