package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is what connect asks for its stdin and stdout pipes (from ssh,
// its ProxyCommand parent): four times fewer wakeups on a bulk stream
// than the default 64 KiB, and no less memory than one WebSocket message.
const pipeSize = 1 << 20

// growPipes enlarges f's pipe, if it is one; it is only an optimisation,
// so a refusal (a file, a terminal, a low pipe-max-size) is ignored.
func growPipes(files ...*os.File) {
	for _, f := range files {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
		}
	}
}
