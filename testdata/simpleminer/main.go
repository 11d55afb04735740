// Command simpleminer is a tiny stand-in CPU miner for rigd's tests and for
// the adapter guide: the miner that testdata/wat-adapter/simple.wat (an
// adapter written without Go) drives. It does no real hashing and opens no
// connection; it prints what a miner prints, with seeded, reproducible
// values:
//
//	simpleminer 1.2.3 starting: pool stratum+tcp://127.0.0.1:3333, user wallet, 1 thread(s), seed 1
//	[0001] hashrate: 1043.7 H/s
//	[0001] share accepted
//	[0004] share rejected: low difficulty share
//
// one hashrate line every --interval, a share every --share-every
// intervals (every --reject-every'th share rejected), and, with --api-port,
// a JSON summary at http://127.0.0.1:PORT/summary. It stops after
// --duration, on SIGTERM or on SIGINT (exit 0), and `--version` prints
// "simpleminer 1.2.3".
//
// It is a testdata program: `go build ./...` and `go vet ./...` skip it;
// tests build it with
//
//	go build -o DIR/simpleminer ./testdata/simpleminer
//
// from the repository root.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const version = "1.2.3"

var reasons = []string{"low difficulty share", "stale job", "duplicate share"}

type summary struct {
	Version    string  `json:"version"`
	HashrateHS float64 `json:"hashrate_hs"`
	Accepted   int64   `json:"accepted"`
	Rejected   int64   `json:"rejected"`
	UptimeS    float64 `json:"uptime_s"`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("simpleminer", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	url := fs.String("url", "", "pool URL (printed, never dialled)")
	user := fs.String("user", "", "pool user (printed)")
	fs.String("pass", "", "pool password (ignored)")
	threads := fs.Int("threads", 1, "CPU threads (scales the hashrate)")
	interval := fs.Duration("interval", 10*time.Second, "time between reports")
	seed := fs.Uint64("seed", 1, "seed of the printed values")
	duration := fs.Duration("duration", 10*time.Minute, "lifetime; the miner exits 0 after it")
	shareEvery := fs.Int("share-every", 1, "a share every N reports")
	rejectEvery := fs.Int("reject-every", 4, "every Nth share is rejected (0: never)")
	apiPort := fs.Int("api-port", 0, "serve GET /summary on 127.0.0.1:PORT (0: no API)")
	apiToken := fs.String("api-token", "", "bearer token the API requires (empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("simpleminer " + version)
		return 0
	}
	if *interval <= 0 || *threads <= 0 || *shareEvery <= 0 || *rejectEvery < 0 || *duration <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "simpleminer: bad arguments (see -help)")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	var (
		mu    sync.Mutex
		state = summary{Version: version}
		start = time.Now()
	)
	if *apiPort > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*apiPort)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "simpleminer: api:", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /summary", func(w http.ResponseWriter, r *http.Request) {
			if *apiToken != "" && r.Header.Get("Authorization") != "Bearer "+*apiToken {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			mu.Lock()
			s := state
			mu.Unlock()
			s.UptimeS = time.Since(start).Round(time.Second).Seconds()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(s)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}

	fmt.Printf("simpleminer %s starting: pool %s, user %s, %d thread(s), seed %d\n", version, orNone(*url), orNone(*user), *threads, *seed)
	rng := rand.New(rand.NewPCG(*seed, 0x5eed))
	t := time.NewTicker(*interval)
	defer t.Stop()
	var shares int
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				fmt.Printf("[%04d] finished after %s\n", tick, *duration)
			} else {
				fmt.Printf("[%04d] stopping on signal\n", tick)
			}
			return 0
		case <-t.C:
		}
		rate := float64(*threads) * (900 + 200*rng.Float64())
		rate = float64(int64(rate*10)) / 10
		fmt.Printf("[%04d] hashrate: %.1f H/s\n", tick, rate)
		mu.Lock()
		state.HashrateHS = rate
		mu.Unlock()
		if tick%*shareEvery != 0 {
			continue
		}
		shares++
		reason := reasons[rng.IntN(len(reasons))]
		mu.Lock()
		if *rejectEvery > 0 && shares%*rejectEvery == 0 {
			state.Rejected++
			fmt.Printf("[%04d] share rejected: %s\n", tick, reason)
		} else {
			state.Accepted++
			fmt.Printf("[%04d] share accepted\n", tick)
		}
		mu.Unlock()
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
