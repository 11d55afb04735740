package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// maxAttempts bounds the requests of one download: the first and the
	// resumes after a connection that broke mid-body.
	maxAttempts = 4
	// progressEvery throttles Progress callbacks.
	progressEvery = 200 * time.Millisecond
	userAgent     = "rigd-install"
)

// Progress reports a running download. It is passed to the callback of
// Install at most every 200 ms and once when the download completes.
type Progress struct {
	// File is the asset's name.
	File string `json:"file"`
	// Bytes received so far, Total expected (-1 when the server does not
	// say).
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	// Rate is the average speed of this download in bytes per second.
	Rate float64 `json:"rate"`
	// ETA is the time left at that rate; 0 when unknown or done.
	ETA time.Duration `json:"eta"`
	// Done is set on the last report, when all bytes are in.
	Done bool `json:"done"`
}

type progressMeter struct {
	fn      func(Progress)
	now     func() time.Time
	file    string
	start   time.Time
	last    time.Time
	total   int64
	current int64
}

func (m *progressMeter) report(done bool) {
	if m.fn == nil {
		return
	}
	now := m.now()
	if !done && now.Sub(m.last) < progressEvery {
		return
	}
	m.last = now
	p := Progress{File: m.file, Bytes: m.current, Total: m.total, Done: done}
	if el := now.Sub(m.start).Seconds(); el > 0 {
		p.Rate = float64(m.current) / el
	}
	if !done && m.total > 0 && p.Rate > 0 && m.current < m.total {
		p.ETA = time.Duration(float64(m.total-m.current) / p.Rate * float64(time.Second))
	}
	m.fn(p)
}

// progressWriter counts bytes into the meter.
type progressWriter struct{ m *progressMeter }

func (w progressWriter) Write(p []byte) (int, error) {
	w.m.current += int64(len(p))
	w.m.report(false)
	return len(p), nil
}

// get sends a GET and classifies transport failures: a canceled or expired
// ctx is returned as is, anything else is ErrUnavailable.
func (i *Installer) get(ctx context.Context, url string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoReleaseSource, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := i.client.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("GET %s: %w", url, cerr)
		}
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return resp, nil
}

// statusError turns an unexpected response into an *HTTPError and closes
// the body.
func (i *Installer) statusError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	e := &HTTPError{URL: resp.Request.URL.String(), StatusCode: resp.StatusCode}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
		body = nil // an error page: markup, not an explanation
	}
	e.Message = strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "?")), " ")
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	if resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0" {
		e.rateLimit = true
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 {
			e.Reset = time.Unix(s, 0)
		} else if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			e.Reset = i.now().Add(time.Duration(s) * time.Second)
		}
	}
	return e
}

// fetchSmall downloads a small document (the checksum file, an API answer)
// of at most limit bytes.
func (i *Installer) fetchSmall(ctx context.Context, url string, hdr http.Header, limit int64) ([]byte, error) {
	resp, err := i.get(ctx, url, hdr)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, i.statusError(resp)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrTooLarge, url, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, i.bodyError(ctx, url, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrTooLarge, url, limit)
	}
	return data, nil
}

func (i *Installer) bodyError(ctx context.Context, url string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("GET %s: %w", url, cerr)
	}
	return fmt.Errorf("%w: %s: %v", ErrTruncated, url, err)
}

// download fetches url into the new file dst and returns its SHA-256 (hex)
// and size. A connection that breaks mid-body is resumed with a Range
// request (If-Range on the ETag or Last-Modified of the first answer);
// a server that ignores the range restarts from zero. The size is capped
// by MaxDownloadBytes; ctx carries the time limit.
func (i *Installer) download(ctx context.Context, url, dst, file string, progress func(Progress)) (digest string, size int64, err error) {
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	m := &progressMeter{fn: progress, now: i.now, file: file, start: i.now(), total: -1}
	var validator string
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, time.Duration(attempt)*100*time.Millisecond); err != nil {
				return "", 0, fmt.Errorf("GET %s: %w", url, err)
			}
			i.log.Info("resuming download", "url", url, "from", m.current, "attempt", attempt+1, "err", lastErr)
		}
		hdr := http.Header{}
		if m.current > 0 {
			hdr.Set("Range", "bytes="+strconv.FormatInt(m.current, 10)+"-")
			if validator != "" {
				hdr.Set("If-Range", validator)
			}
		}
		resp, err := i.get(ctx, url, hdr)
		if err != nil {
			if ctx.Err() != nil || m.current == 0 {
				return "", 0, err
			}
			lastErr = err
			continue
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			if m.current > 0 { // range ignored: start over
				if err := restart(f, m); err != nil {
					resp.Body.Close()
					return "", 0, err
				}
			}
			m.total = resp.ContentLength
			if v := resp.Header.Get("ETag"); v != "" && !strings.HasPrefix(v, "W/") {
				validator = v
			} else if v := resp.Header.Get("Last-Modified"); v != "" {
				validator = v
			}
		case resp.StatusCode == http.StatusPartialContent && m.current > 0:
			start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
			if !ok || start != m.current || m.total >= 0 && total >= 0 && total != m.total {
				resp.Body.Close()
				lastErr = fmt.Errorf("bad Content-Range %q for offset %d", resp.Header.Get("Content-Range"), m.current)
				if err := restart(f, m); err != nil {
					return "", 0, err
				}
				continue
			}
			if total >= 0 {
				m.total = total
			}
		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && m.current > 0:
			resp.Body.Close()
			if err := restart(f, m); err != nil {
				return "", 0, err
			}
			lastErr = errors.New("range not satisfiable")
			continue
		default:
			return "", 0, i.statusError(resp)
		}
		if m.total > i.maxDownload {
			resp.Body.Close()
			return "", 0, fmt.Errorf("%w: %s is %d bytes, over the %d-byte download limit", ErrTooLarge, url, m.total, i.maxDownload)
		}
		limit := i.maxDownload - m.current + 1
		body := &stallReader{r: resp.Body, d: i.stallTimeout}
		body.t = time.AfterFunc(body.d, func() { body.stalled.Store(true); resp.Body.Close() })
		_, err = io.Copy(io.MultiWriter(f, progressWriter{m}), io.LimitReader(body, limit))
		body.t.Stop()
		resp.Body.Close()
		if err != nil && body.stalled.Load() {
			err = fmt.Errorf("no data for %s", i.stallTimeout)
		}
		if m.current > i.maxDownload {
			return "", 0, fmt.Errorf("%w: %s is over the %d-byte download limit", ErrTooLarge, url, i.maxDownload)
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return "", 0, fmt.Errorf("GET %s: %w", url, cerr)
			}
			var we *os.PathError
			if errors.As(err, &we) { // our disk, not the network
				return "", 0, err
			}
			lastErr = err
			continue
		}
		if m.total >= 0 && m.current != m.total {
			lastErr = fmt.Errorf("got %d of %d bytes", m.current, m.total)
			continue
		}
		m.report(true)
		return hashFile(ctx, f, m.current)
	}
	return "", 0, fmt.Errorf("%w: %s: %d of %d bytes after %d attempts: %v", ErrTruncated, url, m.current, m.total, maxAttempts, lastErr)
}

// stallReader closes a response body (by its timer) that sends nothing
// for d: a stalled server kept a download, and its progress line, frozen
// until the whole install timed out.
type stallReader struct {
	r       io.Reader
	d       time.Duration
	t       *time.Timer
	stalled atomic.Bool
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.d)
	}
	return n, err
}

func restart(f *os.File, m *progressMeter) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	m.current, m.total = 0, -1
	return nil
}

// parseContentRange parses "bytes start-end/total" (total may be "*").
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t <= end {
			return 0, 0, false
		}
		total = t
	}
	return start, total, true
}

// hashFile rehashes the first size bytes of f: after resumes, the file on
// disk is what gets verified and extracted, so it is what gets hashed.
func hashFile(ctx context.Context, f *os.File, size int64) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, size)})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// fileSHA256 hashes the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
