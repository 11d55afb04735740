package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File is a file written into Spec.Dir before the process starts.
type File struct {
	// Path is relative to Spec.Dir and local: not absolute, not empty, no
	// ".." element. Missing parent directories are created 0700.
	Path    string
	Content []byte
	// Mode holds the permission bits; 0 means 0600. Group and other bits
	// are cleared: the directory is private anyway.
	Mode fs.FileMode
}

// prepareDir creates dir 0700 and writes files into it.
func prepareDir(ctx context.Context, dir string, files []File) error {
	if dir == "" {
		if len(files) > 0 {
			return fmt.Errorf("%w: files given without a working directory", ErrBadSpec)
		}
		return nil
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%w: working directory %q is not absolute", ErrBadSpec, dir)
	}
	for _, f := range files {
		if err := checkFilePath(f.Path); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create working directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink", ErrUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if len(files) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	defer root.Close()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeFile(root, f); err != nil {
			return fmt.Errorf("write file %q: %w", f.Path, err)
		}
	}
	return nil
}

func checkFilePath(p string) error {
	if !filepath.IsLocal(p) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%w: file path %q is not a local relative path", ErrBadSpec, p)
	}
	for _, e := range strings.Split(filepath.ToSlash(p), "/") {
		if e == ".." {
			return fmt.Errorf("%w: file path %q contains \"..\"", ErrBadSpec, p)
		}
	}
	return nil
}

// writeFile writes f atomically (temp file, then rename) inside root; the
// rename replaces a symlink planted at f.Path rather than following it, and
// root refuses any path that leaves the directory.
func writeFile(root *os.Root, f File) (err error) {
	mode := f.Mode.Perm() & 0o700
	if mode == 0 {
		mode = 0o600
	}
	name := filepath.Clean(f.Path)
	if parent := filepath.Dir(name); parent != "." {
		if err := root.MkdirAll(parent, 0o700); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(name),
		"."+filepath.Base(name)+".tmp"+strconv.FormatUint(rand.Uint64(), 36))
	fh, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = root.Remove(tmp)
		}
	}()
	_, werr := fh.Write(f.Content)
	cerr := fh.Chmod(mode) // the umask may have narrowed it
	if err := errors.Join(werr, cerr, fh.Close()); err != nil {
		return err
	}
	// No fsync: the files are regenerated on every start, so only
	// atomicity matters, not durability.
	return root.Rename(tmp, name)
}
