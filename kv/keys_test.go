package kv

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestValidSeries(t *testing.T) {
	for _, tc := range []struct {
		series string
		ok     bool
	}{
		{"xmrig-rx-0", true},
		{"gpu-rig/nvidia0", true},
		{"a", true},
		{"a.b_c-d/cpu", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 64) + "/" + strings.Repeat("b", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"A", false},
		{"-a", false},
		{"a/", false},
		{"/a", false},
		{"a/b/c", false},
		{"a\x00b", false},
		{"a..b", false},
		{"a b", false},
		{"gpu-rig/Nvidia0", false},
	} {
		err := validSeries(tc.series)
		if (err == nil) != tc.ok {
			t.Errorf("validSeries(%q) = %v, want ok=%v", tc.series, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("validSeries(%q) = %v, not ErrInvalidSeries", tc.series, err)
		}
	}
}

func TestTSKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		res    resolution
		series string
		ms     int64
	}{
		{resRaw, "a", 0},
		{resRaw, "xmrig-rx-0", 1_740_787_200_000},
		{resMinute, "gpu-rig/nvidia0", 1_740_787_260_000},
		{resHour, "rig.1/cpu", -1},
		{resHour, "z", math.MaxInt64},
		{resRaw, "z", math.MinInt64},
	} {
		k := tsKey(nil, tc.res, tc.series, tc.ms)
		r, series, ms, err := decodeTSKey(k)
		if err != nil || r != tc.res || series != tc.series || ms != tc.ms {
			t.Errorf("decode(encode(%v, %q, %d)) = %v, %q, %d, %v", tc.res, tc.series, tc.ms, r, series, ms, err)
		}
		if !bytes.HasPrefix(k, seriesPrefix(nil, tc.res, tc.series)) {
			t.Errorf("key %q lacks its series prefix", k)
		}
	}
}

func TestTSKeyDecodeRejects(t *testing.T) {
	good := tsKey(nil, resRaw, "a", 5)
	for _, k := range [][]byte{
		nil,
		[]byte("ts/"),
		[]byte("ts/5m/a\x00\x80\x00\x00\x00\x00\x00\x00\x05"),
		good[:len(good)-1],
		append(bytes.Clone(good), 0),
		[]byte("ts/raw/A\x00\x80\x00\x00\x00\x00\x00\x00\x05"),
		[]byte("ts/raw/\x00\x80\x00\x00\x00\x00\x00\x00\x05"),
		[]byte("tm/raw/a\x00\x80\x00\x00\x00\x00\x00\x00\x05"),
		[]byte("ts/raw/a/b/c\x00\x80\x00\x00\x00\x00\x00\x00\x05"),
	} {
		if _, _, _, err := decodeTSKey(k); err == nil {
			t.Errorf("decodeTSKey(%q) accepted", k)
		}
	}
}

// TestTSKeyOrder: the keys of a series are contiguous and in time order,
// and no series' prefix is a prefix of another series' keys.
func TestTSKeyOrder(t *testing.T) {
	series := []string{"a", "a-b", "a.b", "a/gpu0", "a/gpu0-x", "a0", "ab", "b"}
	times := []int64{math.MinInt64, -60_000, -1, 0, 1, 60_000, math.MaxInt64}
	type kt struct {
		key    []byte
		series string
		ms     int64
	}
	var keys []kt
	for _, s := range series {
		for _, ms := range times {
			keys = append(keys, kt{tsKey(nil, resRaw, s, ms), s, ms})
		}
	}
	slices.SortFunc(keys, func(a, b kt) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if a.series == b.series && a.ms >= b.ms {
			t.Errorf("series %q: time %d sorts before %d", a.series, a.ms, b.ms)
		}
	}
	// Contiguity: each series occupies one run.
	seen := map[string]bool{}
	for i, k := range keys {
		if i > 0 && keys[i-1].series != k.series && seen[k.series] {
			t.Errorf("series %q is not contiguous", k.series)
		}
		seen[k.series] = true
	}
	for _, s := range series {
		p := seriesPrefix(nil, resRaw, s)
		for _, k := range keys {
			if bytes.HasPrefix(k.key, p) != (k.series == s) {
				t.Errorf("prefix of %q vs key of %q: wrong match", s, k.series)
			}
		}
	}
}

func TestValueRoundTrips(t *testing.T) {
	raw := appendRawValue(nil, 1234.5, 99, 3)
	if v, err := decodeRawValue(raw); err != nil || v != (rawValue{1234.5, 99, 3}) {
		t.Errorf("raw value: %+v, %v", v, err)
	}
	if _, err := decodeRawValue(raw[:len(raw)-1]); err == nil {
		t.Error("truncated raw value accepted")
	}
	a := agg{count: 6, sum: 6000, min: 900, max: 1100, acc: 12, rej: 1, first: 60_010, last: 119_990}
	enc := appendAggValue(nil, 60_000, a)
	if got, err := decodeAggValue(enc, 60_000); err != nil || got != a {
		t.Errorf("agg value: %+v, %v", got, err)
	}
	if _, err := decodeAggValue(enc[:5], 60_000); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated agg: %v", err)
	}
	for _, m := range []marker{{until: 60_000}, {until: -5, hasLast: true, lastAcc: 7, lastRej: 2}} {
		if got, err := decodeMarkerValue(appendMarkerValue(nil, m)); err != nil || got != m {
			t.Errorf("marker %+v: %+v, %v", m, got, err)
		}
	}
}

func TestCounterDelta(t *testing.T) {
	for _, tc := range []struct {
		prev    int64
		hasPrev bool
		cur     int64
		want    int64
	}{
		{0, false, 5, 5}, // first point: counted from zero
		{5, true, 8, 3},  // normal increase
		{8, true, 8, 0},  // no shares
		{8, true, 2, 2},  // restart: the new value is all new
		{8, true, 0, 0},  // restart with nothing yet
		{8, true, -1, 0}, // never negative
		{100, true, 100, 0},
	} {
		if got := counterDelta(tc.prev, tc.hasPrev, tc.cur); got != tc.want {
			t.Errorf("counterDelta(%d, %v, %d) = %d, want %d", tc.prev, tc.hasPrev, tc.cur, got, tc.want)
		}
	}
}

func TestTimeRounding(t *testing.T) {
	for _, tc := range []struct{ ms, iv, floor, ceil int64 }{
		{0, 60, 0, 0},
		{59, 60, 0, 60},
		{60, 60, 60, 60},
		{-1, 60, -60, 0},
		{-60, 60, -60, -60},
		{-61, 60, -120, -60},
	} {
		if f, c := floorTo(tc.ms, tc.iv), ceilTo(tc.ms, tc.iv); f != tc.floor || c != tc.ceil {
			t.Errorf("floor/ceil(%d, %d) = %d, %d; want %d, %d", tc.ms, tc.iv, f, c, tc.floor, tc.ceil)
		}
	}
}

// FuzzDecodeTSKey: the decoder never panics, and what it accepts is exactly
// what the encoder produces.
func FuzzDecodeTSKey(f *testing.F) {
	f.Add(tsKey(nil, resRaw, "xmrig-rx-0", 1_740_787_200_000))
	f.Add(tsKey(nil, resMinute, "gpu-rig/nvidia0", 0))
	f.Add(tsKey(nil, resHour, "a", -1))
	f.Add([]byte("ts/raw/a\x00"))
	f.Add([]byte("ts/1m/a/b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, k []byte) {
		r, series, ms, err := decodeTSKey(k)
		if err != nil {
			return
		}
		if again := tsKey(nil, r, series, ms); !bytes.Equal(again, k) {
			t.Fatalf("decode(%q) = %v %q %d, which encodes to %q", k, r, series, ms, again)
		}
	})
}
