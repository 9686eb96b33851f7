package loadgen

import (
	"testing"
	"time"
)

// TestMerge: runs merged are one run as long as all of them, with
// percentiles over every request of every run.
func TestMerge(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	a := summarize(Result{Elapsed: time.Second, Failed: 1, Bytes: 10}, ms(1, 2, 3))
	b := summarize(Result{Elapsed: 3 * time.Second, Bytes: 5}, ms(10, 20, 30, 40, 50))
	m := Merge(a, b)
	cases := []struct {
		what      string
		got, want any
	}{
		{"requests", m.Requests, 8},
		{"failed", m.Failed, 1},
		{"bytes", m.Bytes, int64(15)},
		{"elapsed", m.Elapsed, 4 * time.Second},
		{"per second", m.PerSecond(), 2.0},
		{"p50", m.P50, 20 * time.Millisecond}, // 1 2 3 10 [20] 30 40 50
		{"max", m.Max, 50 * time.Millisecond},
		{"a's own p50", a.P50, 2 * time.Millisecond},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if z := Merge(); z.Requests != 0 || z.PerSecond() != 0 {
		t.Errorf("merging nothing: %+v", z)
	}
}
