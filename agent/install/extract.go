package install

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits that are not configurable.
const (
	maxEntryName  = 4096 // bytes of an entry name or link target
	maxEntryDepth = 64   // path elements of an entry name
)

// sanitizeEntryName turns an archive entry name into a clean relative path
// with forward slashes, or fails with ErrUnsafeEntry. Backslashes count as
// separators (zip files made on Windows use them). It rejects empty names,
// NUL bytes, absolute paths (including "C:" drive paths), any ".." element
// (even one that would clean away: "a/../b"), and overlong or overdeep
// names. "." (the root itself, as in a "./" tar entry) is returned as ".".
func sanitizeEntryName(name string) (string, error) {
	fail := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrUnsafeEntry, truncate(name, 200), why)
	}
	switch {
	case name == "":
		return fail("empty name")
	case len(name) > maxEntryName:
		return fail("name too long")
	case strings.IndexByte(name, 0) >= 0:
		return fail("NUL byte in name")
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z') {
		return fail("absolute path")
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return fail(`".." element`)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return ".", nil
	}
	if strings.Count(c, "/") >= maxEntryDepth {
		return fail("too deep")
	}
	if !filepath.IsLocal(filepath.FromSlash(c)) {
		return fail("not a local path")
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type entryKind uint8

const (
	kindDir entryKind = iota + 1
	kindFile
	kindSymlink
)

type pendingLink struct{ name, target string }

// extractor writes archive entries below one directory. Every write goes
// through an os.Root, so no path can resolve outside it; on top of that:
// names are sanitized, symbolic links are created only after every file and
// directory has been written (so nothing is ever written through a link from
// the archive) and only if their target, resolved from the link's directory,
// stays inside the root without passing through another link; hard links
// become copies of an earlier regular file of the same archive; devices,
// fifos and other special entries are refused. Total bytes and entries are
// capped; a file is never written past the cap.
//
// The caller removes the directory when any method fails.
type extractor struct {
	ctx      context.Context
	root     *os.Root
	maxBytes int64
	maxFiles int

	written int64
	count   int
	kinds   map[string]entryKind
	files   []string // regular files in archive order
	links   []pendingLink
}

func newExtractor(ctx context.Context, dir string, maxBytes int64, maxFiles int) (*extractor, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &extractor{ctx: ctx, root: root, maxBytes: maxBytes, maxFiles: maxFiles, kinds: map[string]entryKind{}}, nil
}

func (x *extractor) Close() error { return x.root.Close() }

// claim registers an entry: sanitized name, entry count, duplicates, and
// no path through a link. Parent directories are registered implicitly.
func (x *extractor) claim(name string, kind entryKind) (string, error) {
	if err := x.ctx.Err(); err != nil {
		return "", err
	}
	c, err := sanitizeEntryName(name)
	if err != nil {
		return "", err
	}
	if c == "." {
		if kind != kindDir {
			return "", fmt.Errorf("%w: %q: names the root itself", ErrUnsafeEntry, name)
		}
		return c, nil
	}
	x.count++
	if x.count > x.maxFiles {
		return "", fmt.Errorf("%w: more than %d entries", ErrTooLarge, x.maxFiles)
	}
	parts := strings.Split(c, "/")
	for k := 1; k < len(parts); k++ {
		p := strings.Join(parts[:k], "/")
		switch x.kinds[p] {
		case kindSymlink:
			return "", fmt.Errorf("%w: %q: path goes through the link %q", ErrUnsafeEntry, name, p)
		case kindFile:
			return "", fmt.Errorf("%w: %q: path goes through the file %q", ErrUnsafeEntry, name, p)
		case 0:
			x.kinds[p] = kindDir
		}
	}
	if prev, ok := x.kinds[c]; ok && !(prev == kindDir && kind == kindDir) {
		return "", fmt.Errorf("%w: %q: listed twice", ErrUnsafeEntry, name)
	}
	x.kinds[c] = kind
	return c, nil
}

func (x *extractor) dir(name string) error {
	c, err := x.claim(name, kindDir)
	if err != nil || c == "." {
		return err
	}
	return x.root.MkdirAll(c, 0o755)
}

// file writes a regular file. size is the size the archive claims (-1 if
// unknown); a claim over the remaining budget fails before anything is
// read, and the copy stops at the budget whatever the claim said.
func (x *extractor) file(name string, mode fs.FileMode, size int64, r io.Reader) error {
	c, err := x.claim(name, kindFile)
	if err != nil {
		return err
	}
	remaining := x.maxBytes - x.written
	if size > remaining {
		return fmt.Errorf("%w: %q (%d bytes) takes the extracted total over the %d-byte limit", ErrTooLarge, name, size, x.maxBytes)
	}
	if dir := path.Dir(c); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := x.root.OpenFile(c, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm()&0o755|0o600)
	if err != nil {
		return err
	}
	src := ctxReader{x.ctx, r}
	n, err := io.Copy(f, io.LimitReader(src, remaining))
	x.written += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract %q: %w", name, err)
	}
	// Read past the end: a byte there is over the cap (the copy stopped at
	// it), and reaching EOF is what makes an archive reader check the
	// entry's CRC and declared size.
	var one [1]byte
	if k, err := io.ReadFull(src, one[:]); k > 0 {
		return fmt.Errorf("%w: %q takes the extracted total over the %d-byte limit", ErrTooLarge, name, x.maxBytes)
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("extract %q: %w", name, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%w: %q: %d bytes, header says %d", ErrUnsupportedArchive, name, n, size)
	}
	x.files = append(x.files, c)
	return nil
}

// hardlink copies the earlier regular file target (relative to the archive
// root, as in tar) to name.
func (x *extractor) hardlink(name, target string) error {
	t, err := sanitizeEntryName(target)
	if err != nil {
		return fmt.Errorf("%w (hard link %q)", err, name)
	}
	if x.kinds[t] != kindFile {
		return fmt.Errorf("%w: hard link %q: target %q is not an earlier file of the archive", ErrUnsafeEntry, name, target)
	}
	src, err := x.root.Open(t)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	return x.file(name, fi.Mode(), fi.Size(), src)
}

// symlink records a symbolic link, created by finish.
func (x *extractor) symlink(name, target string) error {
	c, err := x.claim(name, kindSymlink)
	if err != nil {
		return err
	}
	x.links = append(x.links, pendingLink{c, target})
	return nil
}

// finish checks and creates the symbolic links.
func (x *extractor) finish() error {
	for _, l := range x.links {
		if err := x.checkLink(l); err != nil {
			return err
		}
	}
	for _, l := range x.links {
		if dir := path.Dir(l.name); dir != "." {
			if err := x.root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if err := x.root.Symlink(l.target, l.name); err != nil {
			return err
		}
	}
	return nil
}

// checkLink resolves a link target lexically from the link's directory. As
// no entry's parent is a link (claim) and the walk refuses to pass through
// one, the lexical walk is the walk the kernel will do, so the check is
// exact: the target must not climb above the root. A target that is itself
// a link is fine, since that link is checked too.
func (x *extractor) checkLink(l pendingLink) error {
	fail := func(why string) error {
		return fmt.Errorf("%w: link %q -> %q: %s", ErrUnsafeEntry, l.name, truncate(l.target, 200), why)
	}
	t := l.target
	switch {
	case t == "":
		return fail("empty target")
	case len(t) > maxEntryName:
		return fail("target too long")
	case strings.IndexByte(t, 0) >= 0 || strings.IndexByte(t, '\\') >= 0:
		return fail("NUL or backslash in target")
	case strings.HasPrefix(t, "/"):
		return fail("absolute target")
	}
	var at []string
	if d := path.Dir(l.name); d != "." {
		at = strings.Split(d, "/")
	}
	els := strings.Split(t, "/")
	for k, el := range els {
		switch el {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return fail("points out of the install root")
			}
			at = at[:len(at)-1]
			continue
		}
		at = append(at, el)
		if x.kinds[strings.Join(at, "/")] == kindSymlink && k < len(els)-1 {
			return fail("passes through another link")
		}
	}
	return nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Archive formats as sniffed from the first bytes.
const (
	formatTarGz  = "tar.gz"
	formatZip    = "zip"
	formatTar    = "tar"
	formatBinary = "binary"
)

// sniffFormat looks at the first 512 bytes of f.
func sniffFormat(f *os.File) (string, error) {
	var head [512]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	h := head[:n]
	switch {
	case len(h) >= 2 && h[0] == 0x1f && h[1] == 0x8b:
		return formatTarGz, nil
	case len(h) >= 4 && string(h[:2]) == "PK" && (h[2] == 3 && h[3] == 4 || h[2] == 5 && h[3] == 6):
		return formatZip, nil
	case len(h) >= 262 && string(h[257:262]) == "ustar":
		return formatTar, nil
	}
	return formatBinary, nil
}

// extractFile extracts the archive at src (format tar.gz, tar or zip) into
// the new directory dst.
func (i *Installer) extractFile(ctx context.Context, format, src, dst string) (*extractor, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := newExtractor(ctx, dst, i.maxExtract, i.maxFiles)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	switch format {
	case formatTarGz:
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrUnsupportedArchive, err)
		}
		err = extractTar(x, zr)
		if err != nil {
			return nil, err
		}
	case formatTar:
		if err := extractTar(x, bufio.NewReader(f)); err != nil {
			return nil, err
		}
	case formatZip:
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if err := extractZip(x, f, fi.Size()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: format %q", ErrUnsupportedArchive, format)
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	return x, nil
}

func extractTar(x *extractor, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("%w: tar: %v", ErrUnsupportedArchive, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = x.dir(hdr.Name)
		case tar.TypeReg:
			err = x.file(hdr.Name, hdr.FileInfo().Mode(), hdr.Size, archiveReader{tr})
		case tar.TypeSymlink:
			err = x.symlink(hdr.Name, hdr.Linkname)
		case tar.TypeLink:
			err = x.hardlink(hdr.Name, hdr.Linkname)
		case tar.TypeXGlobalHeader:
			// PAX global header: metadata only.
		case tar.TypeChar, tar.TypeBlock:
			err = fmt.Errorf("%w: %q: device file", ErrUnsafeEntry, hdr.Name)
		case tar.TypeFifo:
			err = fmt.Errorf("%w: %q: fifo", ErrUnsafeEntry, hdr.Name)
		default:
			err = fmt.Errorf("%w: %q: unsupported tar entry type %q", ErrUnsafeEntry, hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

func extractZip(x *extractor, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("%w: %v", ErrUnsupportedArchive, err)
	}
	// ErrInsecurePath (GODEBUG zipinsecurepath=0): the names are checked
	// below anyway, with the entry named in the error.
	if len(zr.File) > x.maxFiles {
		return fmt.Errorf("%w: %d entries, more than %d", ErrTooLarge, len(zr.File), x.maxFiles)
	}
	var claimed uint64
	for _, f := range zr.File {
		if f.Mode().IsRegular() {
			claimed += f.UncompressedSize64
			if claimed > uint64(x.maxBytes) || f.UncompressedSize64 > uint64(x.maxBytes) {
				return fmt.Errorf("%w: the zip's entries claim more than the %d-byte extract limit (at %q)", ErrTooLarge, x.maxBytes, f.Name)
			}
		}
	}
	for _, f := range zr.File {
		if err := extractZipEntry(x, f); err != nil {
			return err
		}
	}
	return nil
}

func extractZipEntry(x *extractor, f *zip.File) error {
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return x.dir(f.Name)
	case mode&fs.ModeSymlink != 0:
		if f.UncompressedSize64 > maxEntryName {
			return fmt.Errorf("%w: link %q: target too long", ErrUnsafeEntry, f.Name)
		}
		target, err := readZipEntry(f, maxEntryName)
		if err != nil {
			return err
		}
		return x.symlink(f.Name, string(target))
	case mode.IsRegular():
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%w: zip %q: %v", ErrUnsupportedArchive, f.Name, err)
		}
		defer rc.Close()
		err = x.file(f.Name, mode, int64(f.UncompressedSize64), archiveReader{rc})
		return err
	}
	return fmt.Errorf("%w: %q: special file (mode %v)", ErrUnsafeEntry, f.Name, mode)
}

func readZipEntry(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: zip %q: %v", ErrUnsupportedArchive, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zip %q: %v", ErrUnsupportedArchive, f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %q: link target too long", ErrUnsafeEntry, f.Name)
	}
	return b, nil
}

// archiveReader classifies read errors of an archive member (bad CRC,
// more data than the header says, a truncated stream) as a corrupt archive,
// so they are not mistaken for disk errors.
type archiveReader struct{ r io.Reader }

func (a archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %v", ErrUnsupportedArchive, err)
	}
	return n, err
}

// copyTree copies the regular files, directories and links of the
// directory src into the extractor, under the same rules as an archive.
func copyTree(x *extractor, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			return x.dir(name)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return x.symlink(name, filepath.ToSlash(target))
		case t.IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() { // replaced since the walk read it
				return fmt.Errorf("%w: %q: changed while copying", ErrUnsafeEntry, name)
			}
			return x.file(name, fi.Mode(), fi.Size(), f)
		default:
			return fmt.Errorf("%w: %q: special file (mode %v)", ErrUnsafeEntry, name, t)
		}
	})
}
