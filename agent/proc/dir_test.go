package proc

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestPrepareDir(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()

	dir := filepath.Join(base, "a", "b")
	files := []File{
		{Path: "config.json", Content: []byte("{}")},
		{Path: "sub/dir/x.sh", Content: []byte("#!"), Mode: 0o755},
		{Path: "wide", Content: []byte("w"), Mode: 0o666},
	}
	if err := prepareDir(ctx, dir, files); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		".": fs.ModeDir | 0o700, "config.json": 0o600, "sub/dir": fs.ModeDir | 0o700,
		"sub/dir/x.sh": 0o700, "wide": 0o600,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(b) != "{}" {
		t.Errorf("content %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("entries %v (temp files left?)", ents)
	}

	// An existing directory is narrowed to 0700 and files are replaced.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(ctx, dir, []File{{Path: "config.json", Content: []byte("v2")}}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(b) != "v2" {
		t.Errorf("content %q", b)
	}

	// A symlink planted by the miner is replaced, not followed.
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(ctx, dir, []File{{Path: "config.json", Content: []byte("v3")}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Errorf("wrote through a symlink: %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "config.json")); !fi.Mode().IsRegular() {
		t.Errorf("config.json is %v", fi.Mode())
	}

	// A symlinked subdirectory pointing outside is refused.
	if err := os.Symlink(base, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := prepareDir(ctx, dir, []File{{Path: "escape/x", Content: []byte("x")}}); err == nil {
		t.Error("wrote through an escaping symlink")
	}
	if _, err := os.Stat(filepath.Join(base, "x")); err == nil {
		t.Error("file created outside")
	}

	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name  string
		dir   string
		files []File
		is    error
	}{
		{"symlink dir", link, nil, ErrUnsafeDir},
		{"file as dir", notDir, nil, nil},
		{"relative dir", "rel", nil, ErrBadSpec},
		{"files without dir", "", []File{{Path: "a"}}, ErrBadSpec},
		{"absolute file", dir, []File{{Path: "/etc/x"}}, ErrBadSpec},
		{"dotdot", dir, []File{{Path: "../x"}}, ErrBadSpec},
		{"inner dotdot", dir, []File{{Path: "a/../b"}}, ErrBadSpec},
		{"empty name", dir, []File{{Path: ""}}, ErrBadSpec},
		{"NUL", dir, []File{{Path: "a\x00b"}}, ErrBadSpec},
	}
	for _, c := range bad {
		err := prepareDir(ctx, c.dir, c.files)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.is)
		}
	}
	if err := prepareDir(ctx, "", nil); err != nil {
		t.Errorf("no dir: %v", err)
	}
}
