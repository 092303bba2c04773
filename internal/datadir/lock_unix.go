//go:build !windows

package datadir

import (
	"os"
	"syscall"
)

// lockFile blocks until it holds flock(2)'s exclusive lock on f.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
}

func unlockFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// FileID returns the inode number of path as fi describes it: a file
// replaced by a rename has a new one even when its size and time match.
func FileID(path string, fi os.FileInfo) uint64 {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Ino)
	}
	return 0
}
