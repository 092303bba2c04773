//go:build windows

package datadir

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile blocks until it holds an exclusive LockFileEx lock on the first
// byte of f. Like flock(2) it is tied to the handle and released when the
// handle closes; unlike flock(2) it is mandatory for that byte, which only
// the lock file itself ever holds.
func lockFile(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

func unlockFile(f *os.File) {
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// FileID returns NTFS's file index of path (0 if it cannot be read): a file
// replaced by a rename has a new one even when its size and time match.
// fi is unused on Windows, whose FileInfo does not carry the index.
func FileID(path string, fi os.FileInfo) uint64 {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0
	}
	// No access rights needed to read attributes; share everything so a
	// writer is never blocked by the look.
	h, err := windows.CreateFile(p, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return 0
	}
	return uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)
}
