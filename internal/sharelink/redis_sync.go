package sharelink

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// run keeps this node in step with Redis until ctx ends: it listens for
// revocations published by every node, compares its copies with the
// revoked set whenever it (re)subscribes, Redis comes back, and every
// catchUpEvery (a node that missed messages catches up), and retries the
// revocations Redis did not take, every retry.
func (r *redisStore) run(ctx context.Context, retry time.Duration) {
	if retry <= 0 {
		retry = time.Second
	}
	r.running.Store(true)
	defer r.running.Store(false)
	go r.listen(ctx)
	tick := time.NewTicker(retry)
	defer tick.Stop()
	catch := time.NewTicker(catchUpEvery)
	defer catch.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-catch.C:
			r.prune()
			r.syncRevoked(ctx)
		case <-r.catchUp:
			r.syncRevoked(ctx)
		case <-r.wake:
		case <-tick.C:
		}
		if r.pending() == 0 {
			continue
		}
		if err := r.flush(); err != nil {
			failures++
			if failures == 1 || failures%30 == 0 {
				r.log.Error("share link revocations still not saved in redis; retrying", "pending", r.pending(), "attempts", failures, "err", err)
			}
			continue
		}
		failures = 0
	}
}

// listen subscribes to RevokedChannel until ctx ends, subscribing again
// after every failure; each subscription starts with a catch-up, for the
// messages missed while there was none.
func (r *redisStore) listen(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, func() {
			if failures > 0 {
				r.log.Info("share links: listening for revocations again", "after_failures", failures)
			}
			failures = 0
			kick(r.catchUp)
		})
		if ctx.Err() != nil {
			return
		}
		failures++
		if failures == 1 {
			r.log.Warn("share links: not listening for revocations; retrying (the revoked set is read on return)", "err", err)
		}
		// Subscribe again once the health check reaches Redis (at once
		// without one running): no dialling a Redis known to be down.
		for first := true; first || !r.healthy(); first = false {
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// listenOnce holds one subscription until it fails. A silent connection
// is found out by a ping after each quiet second.
func (r *redisStore) listenOnce(ctx context.Context, subscribed func()) error {
	ps := r.rdb.Subscribe(ctx)
	defer ps.Close()
	if err := ps.Subscribe(ctx, RevokedChannel); err != nil {
		return err
	}
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, time.Second)
		var ne interface{ Timeout() bool }
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		case err != nil:
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				subscribed()
			}
		case *redis.Message:
			r.onRevoked(m.Payload)
		}
	}
	return ctx.Err()
}

// onRevoked takes a message "ID UNTIL_MS": the link is dead on this node
// from now on, whatever its copy says.
func (r *redisStore) onRevoked(payload string) {
	id, ms, _ := strings.Cut(payload, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if id == "" || err != nil {
		r.log.Warn("share links: malformed revocation message ignored", "payload", payload)
		return
	}
	r.markGone(map[string]time.Time{id: time.UnixMilli(n)})
}

// markGone records links revoked elsewhere that this node has a copy of
// (a link it has no copy of is read from Redis, which knows, when asked).
func (r *redisStore) markGone(ids map[string]time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, until := range ids {
		if c, ok := r.copies[id]; ok {
			r.gone[id] = until
			if c.l.TokenHash != "" {
				r.graves[c.l.TokenHash] = until
			}
			r.forgetLocked(id)
		}
	}
}

// syncRevoked asks the revoked set about every link this node has a copy
// of: a revocation whose message was missed (this node was cut off from
// Redis) takes effect here.
func (r *redisStore) syncRevoked(ctx context.Context) {
	r.mu.Lock()
	ids := make([]string, 0, len(r.copies))
	for id := range r.copies {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	found := map[string]time.Time{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		cctx, cancel := context.WithTimeout(ctx, redisTimeout)
		scores, err := r.rdb.ZMScore(cctx, revokedIDsKey, chunk...).Result()
		cancel()
		if err := r.note(err); err != nil {
			r.log.Warn("share links: revoked set not read; next catch-up retries", "err", err)
			return
		}
		for i, sc := range scores {
			if sc != 0 {
				found[chunk[i]] = time.UnixMilli(int64(sc))
			}
		}
	}
	if len(found) > 0 {
		r.log.Info("share links: caught up with revocations made elsewhere", "links", len(found))
		r.markGone(found)
	}
}

// prune drops copies older than the grace (they would not be served) and
// revocations past their links' expiry.
func (r *redisStore) prune() {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, c := range r.copies {
		if now.Sub(c.at) >= max(r.opts.Grace, redisFresh) {
			r.forgetLocked(id)
		}
	}
	for id, until := range r.gone {
		if !now.Before(until) {
			delete(r.gone, id)
		}
	}
	for h, until := range r.graves {
		if !now.Before(until) {
			delete(r.graves, h)
		}
	}
}
