package sharelink

import (
	"os"
	"syscall"
	"time"
)

// fileStamp identifies one version of the links file: a rename over it
// changes the inode, an edit in place the time or size.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}
