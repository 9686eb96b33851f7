package memlimit

import (
	"strings"
	"testing"
)

const mib = 1 << 20

// TestDecide: where the limit comes from, the soft limit below it, and the
// cache's bound that follows, or the refusal of one that cannot fit.
func TestDecide(t *testing.T) {
	cgroup := func(n uint64) func() uint64 { return func() uint64 { return n } }
	soft := func(cache int64) int64 { return int64(float64(cache)*Overhead) + Reserve }
	chart := int64(512*mib-512*mib/10-Reserve) / 2 // half of what 512 MiB leaves
	for _, tc := range []struct {
		name    string
		in      Inputs
		from    string
		cache   int64
		refusal string
	}{
		{"nothing known", Inputs{Cgroup: cgroup(0)}, "", DefaultCache, ""},
		{"nothing known, cache given", Inputs{Cache: 32 * mib}, "", 32 * mib, ""},
		{"the chart's 512Mi", Inputs{Cgroup: cgroup(512 * mib)}, "cgroup", chart, ""},
		{"cgroup v1 without a limit", Inputs{Cgroup: cgroup(9223372036854771712)}, "", DefaultCache, ""},
		{"flag over cgroup", Inputs{Flag: 1024 * mib, Cgroup: cgroup(512 * mib)}, "--memory-limit", (1024*mib - 1024*mib/10 - Reserve) / 2, ""},
		{"small limit keeps 16 MiB", Inputs{Flag: 128 * mib}, "--memory-limit", (112*mib - Reserve) / 2, ""},
		{"a cache that fits", Inputs{Cgroup: cgroup(512 * mib), Cache: 256 * mib}, "cgroup", 256 * mib, ""},
		{"the old default in 256Mi", Inputs{Cgroup: cgroup(256 * mib), Cache: 256 * mib}, "cgroup", 0, "at most 128 MiB does"},
		{"too small to run", Inputs{Flag: 64 * mib}, "--memory-limit", 0, "is too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decide(tc.in)
			if tc.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("err %v, want one saying %q", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.From != tc.from || b.Cache != tc.cache || b.SoftLimit != soft(tc.cache) {
				t.Fatalf("got from %q cache %d soft %d, want %q %d %d", b.From, b.Cache, b.SoftLimit, tc.from, tc.cache, soft(tc.cache))
			}
			if b.Limit > 0 && b.SoftLimit > b.Limit*9/10 {
				t.Fatalf("the soft limit %d leaves the runtime less than a tenth of %d", b.SoftLimit, b.Limit)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512MiB": 512 * mib, "1GiB": 1024 * mib, "268435456": 268435456, "100MB": 100_000_000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("lots: no error")
	}
}

// TestGCPercent: the collector runs at the gateway's pace unless the
// operator's GOGC sets one, which is left as it is.
func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", GCPercent}, {"100", 0}, {"off", 0}} {
		b, err := Decide(Inputs{GOGC: tc.gogc})
		if err != nil || b.GCPercent != tc.want {
			t.Errorf("GOGC %q: %d (%v), want %d", tc.gogc, b.GCPercent, err, tc.want)
		}
	}
	if b, _ := Decide(Inputs{}); !strings.Contains(b.String(), "collector pace 200%") {
		t.Errorf("the log line says nothing of the pace: %s", b.String())
	}
}
