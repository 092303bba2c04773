package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/pkg/sftp"
)

// Files is an SFTP session with a host, on the byte streams of its "sftp"
// subsystem channel.
type Files struct {
	c *sftp.Client
}

// Entry is a directory entry as the file panel shows it.
type Entry struct {
	Name  string
	Path  string
	Size  int64
	Mode  string // as ls -l prints it: drwxr-xr-x
	MTime int64  // Unix seconds
	Dir   bool   // a directory, or a link to one
	Link  bool   // a symbolic link
}

// NewFiles runs the SFTP handshake over r (what the host sends) and w
// (what it receives). At most 64 requests of 32 KiB are in flight per
// transfer, so a transfer holds about 2 MiB whatever the file's size.
func NewFiles(r io.Reader, w io.WriteCloser) (*Files, error) {
	c, err := sftp.NewClientPipe(r, w, sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		return nil, fmt.Errorf("sftp handshake: %w", err)
	}
	return &Files{c: c}, nil
}

// Close ends the session.
func (f *Files) Close() error { return f.c.Close() }

// Home is the directory the session starts in (the login's home).
func (f *Files) Home() (string, error) {
	p, err := f.c.RealPath(".")
	if err != nil {
		return "", explain("find the home directory", ".", err)
	}
	return p, nil
}

// List reads a directory: directories first, then files, each by name.
// A symbolic link to a directory counts as a directory.
func (f *Files) List(dir string) ([]Entry, error) {
	dir = clean(dir)
	infos, err := f.c.ReadDir(dir)
	if err != nil {
		return nil, explain("list", dir, err)
	}
	out := make([]Entry, 0, len(infos))
	for _, fi := range infos {
		e := Entry{Name: fi.Name(), Path: path.Join(dir, fi.Name()), Size: fi.Size(),
			Mode: fi.Mode().String(), MTime: fi.ModTime().Unix(), Dir: fi.IsDir(),
			Link: fi.Mode()&fs.ModeSymlink != 0}
		if e.Link {
			if t, err := f.c.Stat(e.Path); err == nil { // a dangling link stays a file
				e.Dir = t.IsDir()
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dir != out[j].Dir {
			return out[i].Dir
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Mkdir makes a directory.
func (f *Files) Mkdir(p string) error {
	if err := f.c.Mkdir(clean(p)); err != nil {
		return explain("make the directory", p, err)
	}
	return nil
}

// Rename renames from to to. It never replaces an existing file: it
// looks first, and uses SSH_FXP_RENAME, which OpenSSH's sftp-server also
// refuses when to exists (unlike posix-rename@openssh.com).
func (f *Files) Rename(from, to string) error {
	from, to = clean(from), clean(to)
	if _, err := f.c.Lstat(to); err == nil {
		return fmt.Errorf("rename %s: %s already exists", from, to)
	}
	if err := f.c.Rename(from, to); err != nil {
		return explain("rename", from, err)
	}
	return nil
}

// Remove deletes a file, or an empty directory (as sftp's rm and rmdir:
// never a tree).
func (f *Files) Remove(p string, dir bool) error {
	p = clean(p)
	var err error
	if dir {
		err = f.c.RemoveDirectory(p)
	} else {
		err = f.c.Remove(p)
	}
	if err == nil {
		return nil
	}
	if dir {
		if entries, lerr := f.c.ReadDir(p); lerr == nil && len(entries) > 0 {
			return fmt.Errorf("delete %s: the directory is not empty (delete what is in it first)", p)
		}
	}
	return explain("delete", p, err)
}

// Download copies the file at p to w, in order, and returns its size.
// Cancelling ctx stops it (w sees no more writes).
func (f *Files) Download(ctx context.Context, p string, w io.Writer) (int64, error) {
	p = clean(p)
	src, err := f.c.Open(p)
	if err != nil {
		return 0, explain("download", p, err)
	}
	defer src.Close()
	n, err := src.WriteTo(&ctxWriter{ctx: ctx, w: w})
	if ctx.Err() != nil {
		return n, fmt.Errorf("download %s: cancelled", p)
	}
	if err != nil {
		return n, explain("download", p, err)
	}
	return n, nil
}

// Upload writes what r yields to the file p, replacing it if it exists
// (as sftp's put and scp do), and returns the bytes written. If the upload
// fails or ctx is cancelled, the partial file is deleted, so that no
// truncated file is left under the real name.
func (f *Files) Upload(ctx context.Context, p string, r io.Reader) (int64, error) {
	p = clean(p)
	dst, err := f.c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, explain("upload", p, err)
	}
	n, err := dst.ReadFromWithConcurrency(&ctxReader{ctx: ctx, r: r}, 0)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && ctx.Err() == nil {
		return n, nil
	}
	_ = f.c.Remove(p) // best effort: the session may be gone
	if ctx.Err() != nil {
		return n, fmt.Errorf("upload %s: cancelled", p)
	}
	return n, explain("upload", p, err)
}

// clean makes p an absolute or relative slash path without dot segments.
func clean(p string) string {
	if p == "" {
		return "."
	}
	return path.Clean(p)
}

// explain words an SFTP error for the page: what was tried, on which path,
// and the server's reason in plain words ("permission denied").
func explain(what, p string, err error) error {
	var st *sftp.StatusError
	reason := err.Error()
	switch {
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		reason = "no such file or directory"
	case errors.As(err, &st):
		switch st.FxCode() {
		case sftp.ErrSSHFxPermissionDenied:
			reason = "permission denied"
		case sftp.ErrSSHFxNoSuchFile:
			reason = "no such file or directory"
		case sftp.ErrSSHFxOpUnsupported:
			reason = "the server does not support this"
		default:
			if m := strings.TrimSpace(st.Error()); m != "" {
				reason = m
			}
		}
	}
	return fmt.Errorf("%s %s: %s", what, p, reason)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxWriter stops writing once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
