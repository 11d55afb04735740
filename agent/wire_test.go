package agent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rigd/rigd/agent/install"
	"github.com/rigd/rigd/agent/miner"
	"github.com/rigd/rigd/peers"
	"github.com/rigd/rigd/router"
)

// TestErrorClasses: the packages' conditions reach the API with the class
// the router maps to a status, and with their own message only (the
// class's text, "miner: name already in use", said the wrong thing).
func TestErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		err   error
		class error
	}{
		{peerErr(fmt.Errorf("%w: 3f2a", peers.ErrInviteUsed)), miner.ErrConflict},
		{peerErr(fmt.Errorf("%w: dial 10.0.0.2:9091: refused", peers.ErrNotConnected)), miner.ErrConflict},
		{peerErr(fmt.Errorf("%w: rig2", peers.ErrUnknownPeer)), miner.ErrNotFound},
		{installErr(fmt.Errorf("uninstall xmrig: %w", install.ErrNotInstalled)), miner.ErrNotFound},
		{installErr(fmt.Errorf("%w: 1.x", install.ErrInvalidVersion)), miner.ErrInvalidInput},
	} {
		msg := tc.err.Error()
		if !errors.Is(tc.err, tc.class) {
			t.Errorf("%q is not %v", msg, tc.class)
		}
		if strings.HasPrefix(msg, "miner:") {
			t.Errorf("%q starts with the class's own text", msg)
		}
	}
}

// TestInstallFromWrongFile: installing a file that is not the miner is
// the caller's mistake, a 400 that says why once.
func TestInstallFromWrongFile(t *testing.T) {
	_, api := testServer(t, nil)
	var e router.ErrorBody
	if code := api.do("POST", "/miners/xmrig/install", map[string]string{"from": "/bin/true"}, &e); code != http.StatusBadRequest || e.Code != router.CodeBadRequest {
		t.Fatalf("install from /bin/true: %d %+v", code, e)
	}
	if !strings.Contains(e.Error, "version not detected") || strings.Count(e.Error, "install xmrig") > 1 {
		t.Fatalf("message %q", e.Error)
	}
}

// TestInstallErrorStatus: what the release source got wrong is its fault
// (502, with a code naming it); the same fault in the caller's own file
// is the caller's (400). A checksum mismatch answered 500 "internal
// error", as if rigd were broken.
func TestInstallErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err         error
		code        string // from the release source: 502 with this code
		callersFile bool   // can come from the caller's file too: 400
	}{
		{install.ErrChecksumMismatch, "checksum_mismatch", false},
		{install.ErrNotListed, "checksum_not_listed", false},
		{install.ErrPinMismatch, "pin_mismatch", false},
		{install.ErrTruncated, "download_truncated", false},
		{install.ErrUnsupportedArchive, "release_invalid", true},
		{install.ErrTooLarge, "release_invalid", true},
		{install.ErrUnsafeEntry, "release_invalid", true},
		{install.ErrVersionProbe, "release_invalid", true},
	} {
		err := fmt.Errorf("install xmrig 6.16.1: %w: details", tc.err)
		var re *router.Error
		if !errors.As(installErr(err), &re) || re.Status != http.StatusBadGateway || re.Code != tc.code || re.Msg != err.Error() {
			t.Errorf("%v from a release: %+v, want 502 %s", tc.err, re, tc.code)
		}
		if tc.callersFile && !errors.Is(installErrFrom(err, true), miner.ErrInvalidInput) {
			t.Errorf("%v from the caller's file: not invalid input", tc.err)
		}
	}
}
