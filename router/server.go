package router

import (
	"log"
	"net/http"
	"time"
)

// Defaults of ServerConfig.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// ServerConfig holds the connection-level limits of the HTTP server.
type ServerConfig struct {
	// ReadHeaderTimeout closes a connection whose request headers are not
	// in within it (slowloris); default 5 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections; default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request headers; default 64 KiB.
	MaxHeaderBytes int
	ErrorLog       *log.Logger
}

// NewServer returns an http.Server for api with the limits of sc. Bodies
// are bounded by the API itself (size and read time per request), and
// ordinary responses get a write deadline; event streams are ended when
// the server shuts down. Call api.Close after Shutdown to wait for them.
func NewServer(api *API, sc ServerConfig) *http.Server {
	if sc.ReadHeaderTimeout <= 0 {
		sc.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if sc.IdleTimeout <= 0 {
		sc.IdleTimeout = DefaultIdleTimeout
	}
	if sc.MaxHeaderBytes <= 0 {
		sc.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: sc.ReadHeaderTimeout,
		IdleTimeout:       sc.IdleTimeout,
		MaxHeaderBytes:    sc.MaxHeaderBytes,
		ErrorLog:          sc.ErrorLog,
	}
	srv.RegisterOnShutdown(api.closeStreams)
	return srv
}
