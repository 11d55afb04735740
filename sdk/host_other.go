//go:build !wasip1

package sdk

import (
	"context"
	"log/slog"

	"github.com/rigd/rigd/sdk/abi"
)

// Log writes one log record to slog.Default (outside wasip1).
func Log(level abi.LogLevel, msg string) {
	if len(msg) > abi.MaxLogMessage {
		msg = msg[:abi.MaxLogMessage]
	}
	slog.Log(context.Background(), slog.Level(level), msg)
}

// LogEnabled reports whether slog.Default keeps records at level.
func LogEnabled(level abi.LogLevel) bool {
	return slog.Default().Enabled(context.Background(), slog.Level(level))
}
