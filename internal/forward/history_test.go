package forward

import (
	"context"
	"fmt"
	"testing"
)

func TestGoneRecordsNamesNotAllocatedPorts(t *testing.T) {
	r := newTestRegistry(t)
	o := &echoOwner{user: "alice", id: "t1", alive: true}
	changed := r.Changed()
	name, err := r.Publish(context.Background(), o, Policy{}, "myhost.alice", 22)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("publishing did not signal Changed")
	}
	port, err := r.Publish(context.Background(), o, Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	live, gone := r.Snapshot()
	if len(live) != 2 || len(gone) != 0 || live[0].Published.IsZero() {
		t.Fatalf("snapshot while online: live %+v gone %+v", live, gone)
	}
	r.UnpublishAll(o)
	live, gone = r.Snapshot()
	if len(live) != 0 || len(gone) != 1 || gone[0].Key != name.Key || gone[0].User != "alice" || gone[0].Since.IsZero() {
		t.Fatalf("snapshot after going away: live %+v gone %+v (allocated port %s must not be kept)", live, gone, port.Key)
	}
	if _, err := r.Publish(context.Background(), o, Policy{}, "myhost.alice", 22); err != nil {
		t.Fatal(err)
	}
	if _, gone = r.Snapshot(); len(gone) != 0 {
		t.Fatalf("a name back online is still remembered as gone: %+v", gone)
	}
}

func TestGoneBoundedPerUser(t *testing.T) {
	r := newTestRegistry(t)
	bob := &echoOwner{user: "bob", id: "b", alive: true}
	if _, err := r.Publish(context.Background(), bob, Policy{}, "db.bob", 22); err != nil {
		t.Fatal(err)
	}
	r.UnpublishAll(bob)
	mallory := &echoOwner{user: "mallory", id: "m", alive: true}
	for i := range MaxGonePerUser * 3 {
		if _, err := r.Publish(context.Background(), mallory, Policy{}, fmt.Sprintf("n%d.mallory", i), 22); err != nil {
			t.Fatal(err)
		}
		r.UnpublishAll(mallory)
	}
	_, gone := r.Snapshot()
	per := map[string]int{}
	for _, g := range gone {
		per[g.User]++
	}
	if per["mallory"] != MaxGonePerUser || per["bob"] != 1 {
		t.Fatalf("gone records per user: %v, want mallory %d and bob's 1 kept", per, MaxGonePerUser)
	}
}
