package miner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rigd/rigd/sdk/abi"
)

// maxAPIBody caps one API reply.
const maxAPIBody = 1 << 20

// apiPoller fetches a miner's API endpoints.
type apiPoller struct {
	client  *http.Client
	timeout time.Duration // per attempt
	retries int
	pause   time.Duration // between attempts
}

func newAPIPoller(timeout time.Duration, retries int) *apiPoller {
	return &apiPoller{
		// A private transport: miner APIs are loopback only and must not
		// pick up proxy settings from the environment.
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}},
		timeout: timeout,
		retries: retries,
		pause:   500 * time.Millisecond,
	}
}

// poll fetches every endpoint in parallel, each with retries, and returns
// the replies in endpoint order; it fails if any endpoint failed.
func (p *apiPoller) poll(ctx context.Context, eps []abi.Endpoint) (abi.APIRequest, error) {
	req := abi.APIRequest{Responses: make([]abi.APIResponse, len(eps))}
	errs := make([]error, len(eps))
	var wg sync.WaitGroup
	for i := range eps {
		wg.Go(func() {
			req.Responses[i], errs[i] = p.fetchRetry(ctx, eps[i])
		})
	}
	wg.Wait()
	return req, errors.Join(errs...)
}

func (p *apiPoller) fetchRetry(ctx context.Context, e abi.Endpoint) (abi.APIResponse, error) {
	var err error
	for attempt := 0; attempt <= p.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return abi.APIResponse{}, ctx.Err()
			case <-time.After(p.pause):
			}
		}
		actx, cancel := context.WithTimeout(ctx, p.timeout)
		var r abi.APIResponse
		r, err = p.fetch(actx, e)
		cancel()
		if err == nil {
			return r, nil
		}
	}
	return abi.APIResponse{}, fmt.Errorf("api %s: %w", e.Name, err)
}

func (p *apiPoller) fetch(ctx context.Context, e abi.Endpoint) (abi.APIResponse, error) {
	switch e.Kind {
	case abi.APIHTTPJSON:
		return p.fetchHTTP(ctx, e)
	case abi.APITCPJSONRPC:
		return fetchTCP(ctx, e)
	}
	return abi.APIResponse{}, fmt.Errorf("unknown api kind %q", e.Kind)
}

func (p *apiPoller) fetchHTTP(ctx context.Context, e abi.Endpoint) (abi.APIResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return abi.APIResponse{}, err
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return abi.APIResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody+1))
	if err != nil {
		return abi.APIResponse{}, err
	}
	if len(body) > maxAPIBody {
		return abi.APIResponse{}, fmt.Errorf("reply over %d bytes", maxAPIBody)
	}
	if resp.StatusCode/100 != 2 {
		return abi.APIResponse{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	return abi.APIResponse{Name: e.Name, Status: resp.StatusCode, Body: string(body)}, nil
}

// fetchTCP sends one request line and reads one JSON value back (the
// Claymore-style API some GPU miners speak), whether or not the miner ends
// it with a newline or closes the connection.
func fetchTCP(ctx context.Context, e abi.Endpoint) (abi.APIResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Address)
	if err != nil {
		return abi.APIResponse{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, e.Request+"\n"); err != nil {
		return abi.APIResponse{}, err
	}
	lr := &io.LimitedReader{R: conn, N: maxAPIBody + 1}
	dec := json.NewDecoder(bufio.NewReader(lr))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if lr.N <= 0 {
			return abi.APIResponse{}, fmt.Errorf("reply over %d bytes", maxAPIBody)
		}
		return abi.APIResponse{}, fmt.Errorf("read reply: %w", err)
	}
	return abi.APIResponse{Name: e.Name, Body: string(bytes.TrimSpace(raw))}, nil
}
