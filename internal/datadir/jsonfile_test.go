package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

type doc struct {
	Names []string `json:"names"`
}

func TestJSONFileSharedBetweenProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.json")
	server, cli := NewJSONFile[doc](path), NewJSONFile[doc](path)
	d, v0, err := server.Load()
	if err != nil || len(d.Names) != 0 {
		t.Fatalf("missing file: %+v, %v; want the zero document", d, err)
	}
	if err := cli.Update(func(d *doc) error { d.Names = append(d.Names, "a"); return nil }); err != nil {
		t.Fatal(err)
	}
	d, v1, err := server.Load()
	if err != nil || len(d.Names) != 1 || v1 == v0 {
		t.Fatalf("after another writer: %+v v%d, %v", d, v1, err)
	}
	if _, v2, _ := server.Load(); v2 != v1 {
		t.Errorf("version moved without a change: %d -> %d", v1, v2)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v: want 0600", fi.Mode(), err)
	}
}

func TestJSONFileKeepsLastGoodDocument(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.json")
	f := NewJSONFile[doc](path)
	if err := f.Update(func(d *doc) error { d.Names = []string{"kept"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, _, err := f.Load()
	if err == nil || d == nil || len(d.Names) != 1 || d.Names[0] != "kept" {
		t.Fatalf("broken file: %+v, %v; want the last good document and an error", d, err)
	}
	if err := f.Update(func(*doc) error { return nil }); err == nil {
		t.Error("Update over a broken file: want an error, not a silent overwrite")
	}
	if _, _, err := NewJSONFile[doc](path).Load(); err == nil {
		t.Error("a fresh reader of a broken file: want an error")
	}
}

func TestJSONFileUpdateErrorWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.json")
	f := NewJSONFile[doc](path)
	err := f.Update(func(d *doc) error { d.Names = []string{"x"}; return os.ErrInvalid })
	if err != os.ErrInvalid {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed update wrote the file: %v", err)
	}
}
