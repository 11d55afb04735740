package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/rigd/rigd/agent/miner"
)

// Key prefixes. Every key kv writes starts with one of these; nothing else
// lives in the database.
const (
	keySchema       = "meta/schema"
	prefixTS        = "ts/"            // ts/<res>/<series>\x00<8-byte time>
	prefixMarker    = "tm/"            // tm/<res>/<series>: rollup progress into <res>
	prefixProfile   = "doc/profile/"   // doc/profile/<id>: StoredProfile JSON
	prefixAutostart = "doc/autostart/" // doc/autostart/<miner>: StartRequest JSON
	prefixSetting   = "doc/setting/"   // doc/setting/<key>: JSON
	prefixAudit     = "log/audit/"     // log/audit/<8-byte time><8-byte seq>: AuditEntry JSON
	prefixSession   = "log/session/"   // log/session/<8-byte time><8-byte seq><miner>: SessionRecord JSON
)

// seriesEnd terminates the series name in a time-series key. It cannot occur
// in a valid series name, so "a" and "a-b" (or "a" and "a/gpu0") never share
// a key prefix: the keys of one series are one contiguous range, and a key
// decodes in exactly one way.
const seriesEnd = 0x00

// resolution indexes the three stored resolutions, finest first.
type resolution uint8

const (
	resRaw resolution = iota
	resMinute
	resHour
	numRes
)

var (
	resNames    = [numRes]string{"raw", "1m", "1h"}
	resPublic   = [numRes]miner.Resolution{miner.ResolutionRaw, miner.ResolutionMinute, miner.ResolutionHour}
	resInterval = [numRes]int64{0, 60_000, 3_600_000} // milliseconds; raw has none
)

func (r resolution) String() string { return resNames[r] }

// ErrInvalidSeries is returned for a series name kv cannot store.
var ErrInvalidSeries = errors.New("kv: invalid series name")

// maxSeriesLen is the longest series: a miner name, '/', a device part.
const maxSeriesLen = 2*miner.MaxNameLen + 1

// validSeries checks a series name: a miner name (miner.ValidateName) or
// "<miner>/<device>" where the device part ("nvidia0", "cpu") follows the
// same rules.
func validSeries(s string) error {
	name, dev, hasDev := strings.Cut(s, "/")
	if err := miner.ValidateName(name); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidSeries, s, err)
	}
	if hasDev {
		if err := miner.ValidateName(dev); err != nil {
			return fmt.Errorf("%w %q: device part: %w", ErrInvalidSeries, s, err)
		}
	}
	return nil
}

// encodeTime maps unix milliseconds to 8 bytes whose byte order is the
// numeric order (big-endian with the sign bit flipped).
func encodeTime(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms)^(1<<63))
}

func decodeTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// seriesPrefix is "ts/<res>/<series>\x00": every key of one series at one
// resolution, and nothing else, starts with it.
func seriesPrefix(dst []byte, r resolution, series string) []byte {
	dst = append(dst, prefixTS...)
	dst = append(dst, resNames[r]...)
	dst = append(dst, '/')
	dst = append(dst, series...)
	return append(dst, seriesEnd)
}

// tsKey is the key of the point of series at ms.
func tsKey(dst []byte, r resolution, series string, ms int64) []byte {
	return encodeTime(seriesPrefix(dst, r, series), ms)
}

// resPrefix is "ts/<res>/".
func resPrefix(r resolution) []byte { return []byte(prefixTS + resNames[r] + "/") }

// decodeTSKey splits a time-series key. It accepts exactly the keys tsKey
// produces for valid series.
func decodeTSKey(k []byte) (resolution, string, int64, error) {
	rest, ok := bytes.CutPrefix(k, []byte(prefixTS))
	if !ok {
		return 0, "", 0, fmt.Errorf("kv: not a time-series key %q", k)
	}
	r := numRes
	for i, name := range resNames {
		if after, ok := bytes.CutPrefix(rest, []byte(name+"/")); ok {
			r, rest = resolution(i), after
			break
		}
	}
	if r == numRes {
		return 0, "", 0, fmt.Errorf("kv: time-series key %q: unknown resolution", k)
	}
	i := bytes.IndexByte(rest, seriesEnd)
	if i < 0 || len(rest)-i-1 != 8 {
		return 0, "", 0, fmt.Errorf("kv: time-series key %q: malformed", k)
	}
	series := string(rest[:i])
	if err := validSeries(series); err != nil {
		return 0, "", 0, fmt.Errorf("kv: time-series key %q: %w", k, err)
	}
	return r, series, decodeTime(rest[i+1:]), nil
}

// markerKey is "tm/<res>/<series>": how far series has been rolled up into
// resolution r.
func markerKey(r resolution, series string) []byte {
	return []byte(prefixMarker + resNames[r] + "/" + series)
}

// logKey is "<prefix><8-byte time><8-byte seq><suffix>".
func logKey(prefix string, ms int64, seq uint64, suffix string) []byte {
	k := make([]byte, 0, len(prefix)+16+len(suffix))
	k = append(k, prefix...)
	k = encodeTime(k, ms)
	k = binary.BigEndian.AppendUint64(k, seq)
	return append(k, suffix...)
}

// prefixEnd is the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // no upper bound
}

// Time helpers on unix milliseconds.

const (
	minTime = math.MinInt64 / 2 // far enough from the edges to add intervals
	maxTime = math.MaxInt64 / 2
)

func floorTo(ms, interval int64) int64 {
	q := ms / interval
	if ms%interval != 0 && ms < 0 {
		q--
	}
	return q * interval
}

func ceilTo(ms, interval int64) int64 {
	f := floorTo(ms, interval)
	if f == ms {
		return ms
	}
	return f + interval
}
