package miner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// AlertConfig says where watchdog alerts go.
type AlertConfig struct {
	// WebhookURL receives a POST with the incident as JSON (plus "text", a
	// one-line summary).
	WebhookURL string `json:"webhook_url,omitempty"`
	// WebhookHeaders are added to the POST (e.g. an Authorization header).
	WebhookHeaders map[string]string `json:"webhook_headers,omitempty"`
	// Command is run (argv, no shell) with the incident in its environment
	// (RIGD_INCIDENT_*) and as JSON on stdin.
	Command []string `json:"command,omitempty"`
	// MinInterval rate-limits alerts per miner and rule (default 10m).
	MinInterval Duration `json:"min_interval,omitempty"`
	// Retries is how many times a failed webhook is retried (default 4),
	// with a doubling pause from RetryBase (default 1 s).
	Retries   int      `json:"retries,omitempty"`
	RetryBase Duration `json:"retry_base,omitempty"`
}

// Alerter delivers incidents to the configured webhook and command. Notify
// never blocks; Run delivers.
type Alerter struct {
	cfg    AlertConfig
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	queue  chan Incident

	mu   sync.Mutex
	last map[string]time.Time // miner/rule -> last alert
}

var _ Notifier = (*Alerter)(nil)

// NewAlerter returns an alerter for cfg; now may be nil (time.Now).
func NewAlerter(cfg AlertConfig, log *slog.Logger, now func() time.Time) *Alerter {
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = Duration(10 * time.Minute)
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 4
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = Duration(time.Second)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Alerter{cfg: cfg, log: log, now: now, client: &http.Client{Timeout: 10 * time.Second},
		queue: make(chan Incident, 64), last: map[string]time.Time{}}
}

// Notify queues an incident unless the same miner and rule alerted within
// MinInterval.
func (a *Alerter) Notify(inc Incident) {
	if a.cfg.WebhookURL == "" && len(a.cfg.Command) == 0 {
		return
	}
	key := inc.Miner + "/" + inc.Rule
	now := a.now()
	a.mu.Lock()
	if t, ok := a.last[key]; ok && now.Sub(t) < time.Duration(a.cfg.MinInterval) {
		a.mu.Unlock()
		return
	}
	a.last[key] = now
	a.mu.Unlock()
	select {
	case a.queue <- inc:
	default:
		a.log.Warn("alert queue full; alert dropped", "miner", inc.Miner, "rule", inc.Rule)
	}
}

// Run delivers queued alerts until ctx is done.
func (a *Alerter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case inc := <-a.queue:
			if a.cfg.WebhookURL != "" {
				if err := a.webhook(ctx, inc); err != nil {
					a.log.Error("alert webhook failed", "url", a.cfg.WebhookURL, "err", err)
				}
			}
			if len(a.cfg.Command) > 0 {
				if err := a.command(ctx, inc); err != nil {
					a.log.Error("alert command failed", "command", a.cfg.Command[0], "err", err)
				}
			}
		}
	}
}

// alertBody is what the webhook receives.
type alertBody struct {
	Incident
	Text string `json:"text"`
}

// Summary is a one-line description of an incident for alerts.
func (inc *Incident) Summary() string {
	return fmt.Sprintf("rigd: miner %s: %s -> %s: %s", inc.Miner, inc.Rule, inc.Action, inc.Detail)
}

func (a *Alerter) webhook(ctx context.Context, inc Incident) error {
	body, err := json.Marshal(alertBody{Incident: inc, Text: inc.Summary()})
	if err != nil {
		return err
	}
	pause := time.Duration(a.cfg.RetryBase)
	var last error
	for attempt := 0; attempt <= a.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
			pause *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range a.cfg.WebhookHeaders {
			req.Header.Set(k, v)
		}
		resp, err := a.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("HTTP %s", resp.Status)
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
			return last // the request is wrong; retrying will not help
		}
	}
	return fmt.Errorf("after %d attempts: %w", a.cfg.Retries+1, last)
}

func (a *Alerter) command(ctx context.Context, inc Incident) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(inc)
	cmd := exec.CommandContext(ctx, a.cfg.Command[0], a.cfg.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(minerEnv(os.Environ()),
		"RIGD_INCIDENT_ID="+strconv.FormatUint(inc.ID, 10),
		"RIGD_INCIDENT_TIME="+inc.Time.UTC().Format(time.RFC3339),
		"RIGD_INCIDENT_MINER="+inc.Miner,
		"RIGD_INCIDENT_RULE="+inc.Rule,
		"RIGD_INCIDENT_ACTION="+inc.Action,
		"RIGD_INCIDENT_MEASURED="+strconv.FormatFloat(inc.Measured, 'g', -1, 64),
		"RIGD_INCIDENT_THRESHOLD="+strconv.FormatFloat(inc.Threshold, 'g', -1, 64),
		"RIGD_INCIDENT_UNIT="+inc.Unit,
		"RIGD_INCIDENT_DETAIL="+inc.Detail,
		"RIGD_INCIDENT_TEXT="+inc.Summary(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 512 {
			out = out[:512]
		}
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
