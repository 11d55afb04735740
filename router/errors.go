package router

import (
	"context"
	"errors"
	"net/http"

	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/sdk/abi"
)

// Error codes in {"error": ..., "code": ...} bodies.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidJSON      = "invalid_json"
	CodeUnknownField     = "unknown_field"
	CodeInvalidName      = "invalid_name"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeNotRunning       = "not_running"
	CodeTooLarge         = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeNotImplemented   = "not_implemented"
	CodeCrossOrigin      = "cross_origin"
	CodeForeignHost      = "forbidden_host"
	CodeShuttingDown     = "shutting_down"
	CodeNotAcceptable    = "not_acceptable"
	CodeNoBinary         = "binary_not_found"
	CodeUnknownType      = "unknown_miner_type"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal"
)

// ErrNotImplemented is wrapped by the error of a route whose backing
// service is not configured in this agent (P2P before it lands, history
// without storage, ...).
var ErrNotImplemented = errors.New("not implemented in this agent")

// ErrForbidden is wrapped by services for an operation the caller's role
// does not allow (a remote peer refusing a verb): 403.
var ErrForbidden = errors.New("forbidden")

// notImplementedError says what is missing; it matches
// ErrNotImplemented.
type notImplementedError struct{ msg string }

func (e *notImplementedError) Error() string        { return e.msg }
func (e *notImplementedError) Is(target error) bool { return target == ErrNotImplemented }

// notImplemented is the error of a route whose service is nil.
func notImplemented(what string) error { return &notImplementedError{what} }

// Error is an API error with its status and code; handlers return it for
// conditions that have no sentinel elsewhere, and the Client returns it for
// every error response it decodes.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Is lets errors.Is(err, ErrNotImplemented) hold for a 501 decoded by the
// Client.
func (e *Error) Is(target error) bool {
	return target == ErrNotImplemented && e.Status == http.StatusNotImplemented
}

func apiError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Msg: msg}
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// statusOf is the one place that chooses an HTTP status for an error.
func statusOf(err error) (int, string) {
	var e *Error
	var ae *abi.Error
	switch {
	case errors.As(err, &e):
		return e.Status, e.Code
	case errors.As(err, &ae):
		// The adapter's verdict on the request (a profile it rejects).
		if ae.Code == abi.CodeInternal {
			return http.StatusInternalServerError, "adapter_" + ae.Code
		}
		return http.StatusBadRequest, ae.Code
	case errors.Is(err, miner.ErrInvalidName):
		return http.StatusBadRequest, CodeInvalidName
	case errors.Is(err, miner.ErrInvalidInput):
		return http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, miner.ErrUnknownType):
		return http.StatusBadRequest, CodeUnknownType
	case errors.Is(err, miner.ErrNoBinary):
		return http.StatusBadRequest, CodeNoBinary
	case errors.Is(err, miner.ErrNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, miner.ErrConflict):
		return http.StatusConflict, CodeConflict
	case errors.Is(err, miner.ErrNotRunning):
		return http.StatusConflict, CodeNotRunning
	case errors.Is(err, miner.ErrStoreNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, miner.ErrClosed):
		return http.StatusServiceUnavailable, CodeShuttingDown
	case errors.Is(err, ErrNotImplemented):
		return http.StatusNotImplemented, CodeNotImplemented
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, CodeForbidden
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, CodeTimeout
	}
	return http.StatusInternalServerError, CodeInternal
}
