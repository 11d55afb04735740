package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError && code == CodeInternal {
		msg = "internal error: " + msg
	}
	writeJSON(w, status, ErrorBody{Error: msg, Code: code})
}

// decode reads a JSON request body into v: the body at most MaxBody bytes,
// unknown fields rejected by name, nothing after the value. Content-Type
// must be JSON, absent, or curl's default for -d
// (application/x-www-form-urlencoded) on a request without an Origin
// header: browsers send that type cross-origin without a preflight, so it is
// only taken from non-browser clients.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		curl := mt == "application/x-www-form-urlencoded" && r.Header.Get("Origin") == ""
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && !curl) {
			return apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q is not application/json", ct))
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: more than one value in the body")
		}
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return apiError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body over %d bytes", MaxBody))
	case errors.Is(err, io.EOF):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, "request body is empty; want a JSON object")
	case errors.As(err, &se):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return apiError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("field %s: got JSON %s, want %s", field, te.Value, te.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apiError(http.StatusBadRequest, CodeUnknownField, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: unexpected end of body")
	}
	return apiError(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: "+err.Error())
}
