//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard one (every
// tube, listener and forwarded connection costs a descriptor) and logs
// both numbers.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("open files limit unknown", "err", err)
		return
	}
	soft := lim.Cur
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("could not raise the open files limit", "soft", soft, "hard", lim.Max, "err", err)
			return
		}
	}
	log.Info("open files limit", "soft", lim.Cur, "was", soft, "hard", lim.Max)
}
