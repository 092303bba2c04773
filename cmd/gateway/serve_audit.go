package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/users"
)

// openAudit opens --audit-log ("" keeps only the admin page's recent
// events) and counts its drops and write errors in reg.
func openAudit(path string, log *slog.Logger, reg prometheus.Registerer) (*audit.Log, error) {
	al, err := audit.Open(path, audit.Options{Log: log.With("part", "audit")})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tubegate_audit_events_dropped_total",
		Help: "Audit events not written: the writer was that far behind (queue full) or the log was closed.",
	}, func() float64 { return float64(al.Dropped()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tubegate_audit_write_errors_total", Help: "Audit log writes that failed.",
	}, func() float64 { return float64(al.WriteErrors()) }))
	if path != "" {
		log.Info("audit log", "path", path)
	}
	return al, nil
}

// reopenOnHUP reopens the audit log on every SIGHUP until ctx ends, for
// rotation: mv audit.log audit.log.1; kill -HUP PID.
func reopenOnHUP(ctx context.Context, al *audit.Log, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := al.Reopen(); err != nil {
					log.Error("audit log: reopen on SIGHUP", "err", err)
					continue
				}
				log.Info("audit log reopened", "path", al.Path())
			}
		}
	}()
}

// userChanges writes the users file's journal (see users.Change) to the
// audit log: changes made by the admin page and by `gateway user` in
// another process alike, with who made them.
type userChanges struct {
	store *users.Store
	al    *audit.Log

	mu  sync.Mutex // poll runs from run's goroutine and once more at shutdown
	seq uint64
}

func newUserChanges(store *users.Store, al *audit.Log) *userChanges {
	_, seq, _ := store.ChangesSince(0) // what happened before this start is not news
	return &userChanges{store: store, al: al, seq: seq}
}

var changeEvents = map[string]string{
	users.ActionCreated: audit.UserCreate, users.ActionChanged: audit.UserChange, users.ActionDeleted: audit.UserDelete,
}

// poll records the changes since the last poll.
func (u *userChanges) poll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	changes, seq, err := u.store.ChangesSince(u.seq)
	if err != nil {
		return // a broken file keeps the last good users: next time
	}
	if seq < u.seq { // the file was replaced by one with a shorter history
		changes, seq, _ = u.store.ChangesSince(0)
	}
	for _, c := range changes {
		u.al.Record(audit.Event{Time: c.Time, Event: changeEvents[c.Action], User: c.By, Source: c.Source,
			Outcome: audit.Success, By: c.By, Subject: c.User, Fields: c.Fields})
	}
	u.seq = seq
}

// run polls every interval until ctx ends, and once more then.
func (u *userChanges) run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			u.poll()
		}
	}
}
