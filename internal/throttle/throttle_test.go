package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// waitFor polls cond for liveness only: a correct implementation gets
// there at once.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// counter reads the value of name{path=path} from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, path string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == path {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

func wrong() bool { return false }
func right() bool { return true }

func TestBudgetPerSourceAndWindow(t *testing.T) {
	f := New(3, time.Minute)
	now := time.Now()
	for i := 0; i < 3; i++ {
		if f.reserve("10.0.0.1", now) == nil {
			t.Fatalf("refused after %d attempts, limit 3", i)
		}
	}
	if f.reserve("10.0.0.1", now) != nil {
		t.Error("allowed after 3 attempts")
	}
	if f.reserve("10.0.0.2", now) == nil {
		t.Error("another source suffered")
	}
	if f.reserve("10.0.0.1", now.Add(time.Minute+time.Second)) == nil {
		t.Error("still refused after the window")
	}
	f.reserve("10.0.0.3", now.Add(3*time.Minute)) // prunes the old windows
	if len(f.fails) != 1 {
		t.Errorf("%d windows kept, want 1", len(f.fails))
	}
}

// TestParallelGuessesReserveFirst is the race of issue 14 §4: many wrong
// guesses from one source at once, every check held until all have either
// started their check or been refused. Only the budget may start.
func TestParallelGuessesReserveFirst(t *testing.T) {
	const budget, guesses = 10, 200
	reg := prometheus.NewRegistry()
	f := New(budget, time.Minute, WithConcurrency(guesses), WithMetrics(reg))
	var entered, refused atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < guesses; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Check(context.Background(), "web", "10.0.0.1", func() bool {
				entered.Add(1)
				<-release
				return false
			})
			if errors.Is(err, ErrThrottled) {
				refused.Add(1)
			} else if err != nil {
				t.Errorf("Check: %v", err)
			}
		}()
	}
	waitFor(t, "every guess to be checked or refused", func() bool { return entered.Load()+refused.Load() == guesses })
	close(release)
	wg.Wait()
	if n := entered.Load(); n > budget {
		t.Errorf("%d of %d parallel wrong guesses were checked, budget %d", n, guesses, budget)
	}
	if got := counter(t, reg, "tubegate_password_checks_total", "web"); got != int(entered.Load()) {
		t.Errorf("tubegate_password_checks_total{path=web} = %d, want %d", got, entered.Load())
	}
	if got := counter(t, reg, "tubegate_password_throttled_total", "web"); got != int(refused.Load()) {
		t.Errorf("tubegate_password_throttled_total{path=web} = %d, want %d", got, refused.Load())
	}
}

func TestRightPasswordGivesItsAttemptBack(t *testing.T) {
	f := New(3, time.Minute)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if ok, err := f.Check(ctx, "ssh", "10.0.0.1", right); !ok || err != nil {
			t.Fatalf("right password %d: %v %v", i, ok, err)
		}
	}
	for i := 0; i < 3; i++ {
		if ok, err := f.Check(ctx, "ssh", "10.0.0.1", wrong); ok || err != nil {
			t.Fatalf("wrong password %d: %v %v, want false <nil>", i, ok, err)
		}
	}
	ran := false
	if _, err := f.Check(ctx, "ssh", "10.0.0.1", func() bool { ran = true; return true }); !errors.Is(err, ErrThrottled) || ran {
		t.Fatalf("after 3 wrong passwords: err %v, check ran %v; want ErrThrottled without a check", err, ran)
	}
}

func TestRefundAfterTheWindowEnded(t *testing.T) {
	f := New(2, time.Minute)
	now := time.Now()
	old := f.reserve("10.0.0.1", now)
	later := now.Add(2 * time.Minute)
	f.reserve("10.0.0.1", later)
	f.reserve("10.0.0.1", later)
	f.refund("10.0.0.1", old) // belongs to a window that is gone
	if f.reserve("10.0.0.1", later) != nil {
		t.Error("a refund from an old window gave the new one an attempt")
	}
}

// TestChecksBoundedAcrossSources: many sources, each within its budget,
// never run more checks at once than the gateway allows.
func TestChecksBoundedAcrossSources(t *testing.T) {
	const slots, sources = 2, 20
	f := New(10, time.Minute, WithConcurrency(slots))
	var running, most, done atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < sources; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Check(context.Background(), "share", fmt.Sprintf("10.0.0.%d", i), func() bool {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				running.Add(-1)
				return false
			})
			done.Add(1)
		}()
	}
	for i := 0; i < sources; i++ {
		want := min(slots, sources-i)
		waitFor(t, fmt.Sprintf("%d checks running", want), func() bool { return running.Load() == int32(want) })
		release <- struct{}{}
	}
	wg.Wait()
	if m := most.Load(); m > slots {
		t.Errorf("%d checks ran at once, limit %d", m, slots)
	}
}

// TestWaitingCheckRespectsContext: a check waiting for its turn gives up
// when its request ends, without running and without using the budget.
func TestWaitingCheckRespectsContext(t *testing.T) {
	f := New(1, time.Minute, WithConcurrency(1))
	hold, held := make(chan struct{}), make(chan struct{})
	go f.Check(context.Background(), "web", "10.0.0.1", func() bool { close(held); <-hold; return true })
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ran := false
	go func() {
		_, err := f.Check(ctx, "web", "10.0.0.2", func() bool { ran = true; return true })
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Check after cancel: %v, want context.Canceled", err)
	}
	if ran {
		t.Error("a cancelled check ran")
	}
	close(hold)
	if ok, err := f.Check(context.Background(), "web", "10.0.0.2", wrong); ok || err != nil {
		t.Errorf("10.0.0.2 after its cancelled attempt: %v %v, want its one attempt checked", ok, err)
	}
}

func TestSource(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.3:555": "10.1.2.3", "[::1]:22": "::1", "pipe": "pipe"} {
		if got := Source(in); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}
}

// downShared is a shared count that cannot be reached.
type downShared struct{}

func (downShared) Reserve(context.Context, string, int, time.Duration) (string, bool, error) {
	return "", false, errors.New("redis unreachable")
}
func (downShared) Refund(context.Context, string, string) error {
	return errors.New("redis unreachable")
}

func TestSharedUnreachableRefusesAndLocalGoesOn(t *testing.T) {
	f := New(2, time.Minute, WithShared(downShared{}))
	ran := false
	if _, err := f.Check(context.Background(), "ssh", "192.0.2.1", func() bool { ran = true; return true }); !errors.Is(err, ErrUncounted) || ran {
		t.Fatalf("shared count down: %v (check ran: %v), want ErrUncounted and no check", err, ran)
	}
	l := f.Local()
	for range 2 {
		if ok, err := l.Check(context.Background(), "resume", "192.0.2.1", func() bool { return false }); ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if _, err := l.Check(context.Background(), "resume", "192.0.2.1", func() bool { return true }); !errors.Is(err, ErrThrottled) {
		t.Fatalf("local count past its budget: %v", err)
	}
}
