package router

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowloris: 500 connections that send half a request header are
// closed by the header timeout while other clients are still served.
func TestSlowloris(t *testing.T) {
	const (
		conns         = 500
		headerTimeout = time.Second
	)
	fm := newFakeMiners()
	fm.add("cpu", "xmrig", 0)
	api := New(fullConfig(fm))
	srv := NewServer(api, ServerConfig{ReadHeaderTimeout: headerTimeout})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var serveWG sync.WaitGroup
	serveWG.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Close()
		serveWG.Wait()
		api.Close()
	})
	addr := ln.Addr().String()

	start := time.Now()
	var closed atomic.Int64
	var wg sync.WaitGroup
	var slow []net.Conn
	for range conns {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		slow = append(slow, c)
		if _, err := io.WriteString(c, "GET /api/v1/mining/miners HTTP/1.1\r\nHost: localhost\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, c := range slow {
			c.Close()
		}
	})
	var lastClose atomic.Int64
	for _, c := range slow {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) // bounds the test
			_, err := io.Copy(io.Discard, c)                    // returns when the server closes
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // still open after 10 s: counted as not closed
			}
			closed.Add(1)
			lastClose.Store(int64(time.Since(start)))
		})
	}

	// Others are served during the attack.
	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	for range 20 {
		t0 := time.Now()
		resp, err := client.Get("http://" + addr + "/api/v1/mining/miners")
		if err != nil {
			t.Fatalf("a normal client was not served during the attack: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("normal client: %d", resp.StatusCode)
		}
		worst = max(worst, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if n := closed.Load(); n != conns {
		t.Fatalf("%d of %d slow connections closed by the server", n, conns)
	}
	last := time.Duration(lastClose.Load())
	if last > headerTimeout+3*time.Second {
		t.Fatalf("the last slow connection closed after %v (header timeout %v)", last, headerTimeout)
	}
	t.Logf("%d slow connections closed within %v; normal requests took at most %v", conns, last, worst)
}

// TestHeaderLimit: request headers over MaxHeaderBytes are refused with
// 431 and the server keeps serving.
func TestHeaderLimit(t *testing.T) {
	api := New(fullConfig(newFakeMiners()))
	srv := NewServer(api, ServerConfig{MaxHeaderBytes: 4 << 10})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
		api.Close()
	})
	url := "http://" + ln.Addr().String() + api.Prefix() + "/health"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: %d", resp.StatusCode)
	}
	resp, err = http.Get(url)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a big header: %v %v", resp, err)
	}
	resp.Body.Close()
}
