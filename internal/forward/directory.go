package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Directory is the cluster's endpoint directory as the registry sees it:
// which node's tube holds each endpoint key. A registry without one (the
// single-node default) never asks anybody. internal/cluster implements it
// over Redis; this package does not import it, so that the browser's
// client, which builds this package for js/wasm, carries no Redis.
type Directory interface {
	// Node is this node's ID, as claims record it.
	Node() string
	// Claim records c under c.Key, atomically across nodes: when the key
	// is free, or when old is non-nil and the key still holds exactly old
	// (compare-and-swap: of two takers one wins). It returns the claim as
	// recorded (with its ID and node filled in), or the holder when the
	// key is held by another claim. An unreachable directory is an error.
	Claim(ctx context.Context, c Claim, old *Claim) (mine Claim, holder *Claim, err error)
	// Release removes c from the directory if it still holds it
	// (compare-and-delete), and stops keeping it alive.
	Release(ctx context.Context, c Claim)
	// Lookup returns the claim on key, or nil when there is none.
	Lookup(ctx context.Context, key Address) (*Claim, error)
	// List returns the claims, on every node, of the endpoints that users
	// publish and of the endpoints at keys (a bounded read).
	List(ctx context.Context, users []string, keys []Address) ([]Claim, error)
	// Open carries a connection from origin to c's endpoint through c's
	// node and tube; Probe asks c's node whether c's tube still answers;
	// CloseTube asks c's node to end c's tube.
	Open(ctx context.Context, c Claim, origin net.Addr) (net.Conn, error)
	Probe(ctx context.Context, c Claim) (bool, error)
	CloseTube(ctx context.Context, c Claim) error
	// OnLost registers fn to hear of a claim of this node that the
	// directory lost to a newer claim of another node (this node's claim
	// lapsed while Redis was away from it); the registry then unpublishes
	// the endpoint.
	OnLost(fn func(lost, holder Claim))
}

// Claim is an endpoint's record in the directory.
type Claim struct {
	// ID is unique per claim: releases, refreshes and takeovers match it.
	ID        string
	Key       Address
	Node      string // the node whose tube holds the endpoint
	NodeAddr  string // where other nodes reach that node
	Tube      string // the owning tube's ID on that node
	User      string
	Virtual   bool
	BindHost  string
	BindPort  int
	Published time.Time
}

// errAllocatedTaken: the port the kernel allocated is held on another node.
var errAllocatedTaken = Refusedf("the allocated port is published on another node")

// maxClaimTries bounds the compare-and-swap rounds of one publish.
const maxClaimTries = 4

// SetDirectory makes the registry claim its endpoints in d and look up
// other nodes' in it. Call it once, before anything is published.
func (r *Registry) SetDirectory(d Directory) {
	r.dir = d
	d.OnLost(r.claimLost)
}

// goLive claims ep in the directory, if there is one, and inserts it: no
// connection reaches it before it is the cluster's.
func (r *Registry) goLive(ctx context.Context, ep *Endpoint) error {
	if r.dir == nil {
		return r.insert(ep)
	}
	if err := r.pend(ep); err != nil {
		return err
	}
	defer r.unpend(ep)
	ep.Published = time.Now()
	c, err := r.claim(ctx, ep)
	if err != nil {
		return err
	}
	ep.claim = &c
	if err := r.insert(ep); err != nil {
		r.dir.Release(ctx, c)
		return err
	}
	return nil
}

// pend reserves ep.Key on this node for the time of its claim: with it, a
// directory record of this node that is neither live nor pending here is
// known to be stale.
func (r *Registry) pend(ep *Endpoint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey[ep.Key] != nil {
		return Refusedf("%s is already published", ep.Key)
	}
	if _, ok := r.pending[ep.Key]; ok {
		return Refusedf("%s is being published by another connection", ep.Key)
	}
	r.pending[ep.Key] = ep.Owner
	return nil
}

func (r *Registry) unpend(ep *Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, ep.Key)
}

// claim takes ep's key in the directory. A key held by another user's tube
// is refused; by another tube of the same user on another node, taken over
// when that tube is silent or its node unreachable (the old tube is then
// closed through its node, best effort); by this node but neither live nor
// pending here, a stale record, replaced.
func (r *Registry) claim(ctx context.Context, ep *Endpoint) (Claim, error) {
	want := Claim{Key: ep.Key, Tube: ep.Owner.ID(), User: ep.Owner.User(), Virtual: ep.Virtual,
		BindHost: ep.BindHost, BindPort: ep.BindPort, Published: ep.Published}
	var old *Claim
	for range maxClaimTries {
		mine, holder, err := r.dir.Claim(ctx, want, old)
		if err != nil {
			return Claim{}, fmt.Errorf("publish %s: %w", ep.Key, err)
		}
		if holder == nil {
			if old != nil && old.Node != r.dir.Node() {
				go r.closeRemote(*old)
			}
			return mine, nil
		}
		switch {
		case holder.Node == r.dir.Node():
			r.log.Info("replacing a stale directory record of this node", "endpoint", ep.Key, "old_tube", holder.Tube)
		case ep.Allocated:
			return Claim{}, errAllocatedTaken
		case holder.User != ep.Owner.User():
			return Claim{}, Refusedf("%s is already published by another user", ep.Key)
		default:
			if err := r.mayTakeOver(ctx, ep, *holder); err != nil {
				return Claim{}, err
			}
		}
		old = holder
	}
	return Claim{}, Refusedf("%s: its directory record kept changing; try again", ep.Key)
}

// mayTakeOver refuses when holder, another tube of ep's user on another
// node, still answers.
func (r *Registry) mayTakeOver(ctx context.Context, ep *Endpoint, holder Claim) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	alive, err := r.dir.Probe(pctx, holder)
	if alive {
		return Refusedf("%s is already published by your other connection %s on node %s, which is still alive",
			ep.Key, holder.Tube, holder.Node)
	}
	r.log.Info("taking over endpoint from unresponsive tube on another node", "endpoint", ep.Key,
		"user", ep.Owner.User(), "old_node", holder.Node, "old_tube", holder.Tube, "new_tube", ep.Owner.ID(),
		"probe_err", err)
	return nil
}

// closeRemote ends a tube whose endpoint was taken over, through its node.
func (r *Registry) closeRemote(c Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := r.dir.CloseTube(ctx, c); err != nil {
		r.log.Info("could not close the tube whose endpoint was taken over", "endpoint", c.Key,
			"node", c.Node, "tube", c.Tube, "err", err)
	}
}

// claimLost unpublishes the endpoint whose claim the directory lost to a
// newer one on another node, and tells its owner.
func (r *Registry) claimLost(lost, holder Claim) {
	r.mu.Lock()
	ep := r.byKey[lost.Key]
	r.mu.Unlock()
	if ep == nil || ep.claim == nil || ep.claim.ID != lost.ID {
		return
	}
	err := fmt.Errorf("%s was claimed by tube %s on node %s while this node's claim had lapsed", lost.Key, holder.Tube, holder.Node)
	r.log.Warn("endpoint lost to a newer claim on another node; unpublished", "endpoint", lost.Key,
		"tube", lost.Tube, "holder_node", holder.Node, "holder_tube", holder.Tube)
	r.Unpublish(ep)
	if n, ok := ep.Owner.(LossNotifier); ok {
		n.EndpointLost(ep, err)
	}
}

// release gives ep's claim back to the directory, once ep left byKey.
func (r *Registry) releaseClaim(ep *Endpoint) {
	if r.dir != nil && ep.claim != nil {
		r.dir.Release(context.Background(), *ep.claim)
	}
}

// Resolve returns the endpoint at addr: this node's, else, on a cluster,
// the one the directory records on another node, whose Owner carries
// connections there. It returns nil when nothing is published at addr,
// and an error when the directory cannot be asked.
func (r *Registry) Resolve(ctx context.Context, addr Address) (*Endpoint, error) {
	if ep := r.Get(addr); ep != nil || r.dir == nil {
		return ep, nil
	}
	c, err := r.dir.Lookup(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", addr, err)
	}
	if c == nil || c.Node == r.dir.Node() {
		return nil, nil // this node's record but no endpoint here: stale, or not yet live
	}
	return &Endpoint{Key: c.Key, BindHost: c.BindHost, BindPort: c.BindPort, Virtual: c.Virtual,
		Published: c.Published, Owner: &remoteOwner{dir: r.dir, c: *c}, remote: true}, nil
}

// Remote returns, on a cluster, the endpoints held by tubes on other
// nodes that users publish, and those at keys, as the directory records
// them (with their node; their traffic is counted on their node), ordered
// by address. A single node has none. An endpoint live here is left out:
// Snapshot and ListUser give it with its counts.
func (r *Registry) Remote(ctx context.Context, users []string, keys []Address) ([]Claim, error) {
	if r.dir == nil {
		return nil, nil
	}
	cs, err := r.dir.List(ctx, users, keys)
	if err != nil {
		return nil, fmt.Errorf("list the cluster's endpoints: %w", err)
	}
	out := cs[:0]
	for _, c := range cs {
		if c.Node != r.dir.Node() && r.Get(c.Key) == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Clustered reports whether the registry is part of a cluster (it has a
// directory).
func (r *Registry) Clustered() bool { return r.dir != nil }

// remoteOwner is a tube on another node, reached through the directory.
type remoteOwner struct {
	dir Directory
	c   Claim
}

func (o *remoteOwner) User() string { return o.c.User }
func (o *remoteOwner) ID() string   { return o.c.Node + "/" + o.c.Tube }
func (o *remoteOwner) OpenForwarded(ctx context.Context, ep *Endpoint, origin net.Addr) (net.Conn, error) {
	c, err := o.dir.Open(ctx, o.c, origin)
	if err != nil {
		return nil, fmt.Errorf("open %s through node %s: %w", ep.Key, o.c.Node, err)
	}
	return c, nil
}
func (o *remoteOwner) Probe(ctx context.Context) bool {
	ok, _ := o.dir.Probe(ctx, o.c)
	return ok
}
func (o *remoteOwner) Close() error { return o.dir.CloseTube(context.Background(), o.c) }

// OpenLocal opens a connection to this node's endpoint key for another
// node, if tube still holds it: counted and cut with the endpoint like any
// other. Policy was checked on the node the request arrived at.
func (r *Registry) OpenLocal(ctx context.Context, key, tube string, origin net.Addr) (net.Conn, error) {
	addr, err := ParseAddress(key)
	if err != nil {
		return nil, Refusedf("endpoint %q: %v", key, err)
	}
	ep := r.Get(addr)
	if ep == nil || ep.Owner.ID() != tube {
		return nil, Refusedf("%s is not held by tube %s on this node", addr, tube)
	}
	return ep.Dial(ctx, origin)
}

// ProbeLocal reports whether this node's tube (one that holds or is
// claiming endpoints) still answers.
func (r *Registry) ProbeLocal(ctx context.Context, tube string) bool {
	if o := r.ownerByID(tube); o != nil {
		return o.Probe(ctx)
	}
	return false
}

// CloseLocal ends this node's tube, if it holds endpoints here.
func (r *Registry) CloseLocal(tube string) error {
	if o := r.ownerByID(tube); o != nil {
		if err := o.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("close tube %s: %w", tube, err)
		}
	}
	return nil
}

// ownerByID finds a tube of this node that holds endpoints, or is
// claiming one (a probe must not find a tube that just won a claim silent).
func (r *Registry) ownerByID(id string) Owner {
	r.mu.Lock()
	defer r.mu.Unlock()
	for o := range r.byOwner {
		if o.ID() == id {
			return o
		}
	}
	for _, o := range r.pending {
		if o.ID() == id {
			return o
		}
	}
	return nil
}
