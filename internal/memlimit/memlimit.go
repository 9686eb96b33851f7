// Package memlimit decides how much memory the gateway may use: the limit
// it runs under (a flag, GOMEMLIMIT, or its container's cgroup), the bound
// of the query cache within it, and the Go runtime's soft limit, so that
// the garbage collector works harder before the kernel would kill the
// process, and resident memory stays near what the cache counts.
package memlimit

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/dustin/go-humanize"
)

const (
	// Reserve is what the gateway keeps for itself beside the cache: its
	// code, pools and buffers (about 40 MB measured) and the requests in
	// flight (a page being read and written is a few MB).
	Reserve = 64 << 20
	// Overhead is how much heap a counted cache byte may take with the
	// collector's room to work: the heap holds about what the cache counts
	// (TestEntriesCostWhatTheyCount), and the soft limit leaves it 30%
	// more for the garbage between two collections. While the cache is
	// far from full the collector keeps the pace GCPercent sets; only a
	// full cache brings the heap to the soft limit, and a cached answer is
	// one byte slice, which the collector does not scan.
	Overhead = 1.3
	// GCPercent is the collector's pace unless GOGC sets one: the heap may
	// grow to three times what is live before a collection, not Go's
	// usual two. A cache hit allocates little, but at tens of thousands a
	// second the collections at Go's pace took an eighth of its CPU
	// (scripts/measure-hit.sh: 26-30 against 23-25 us a hit); the soft
	// limit still bounds the heap, so a full cache is collected as before.
	GCPercent = 200
	// DefaultCache is the cache's bound when no limit is known.
	DefaultCache = 256 << 20
	// minUsable is the least room for the cache that makes it worth having.
	minUsable = 16 << 20
)

// Budget is what Decide settled.
type Budget struct {
	Limit     int64  // the hard limit, 0 when none is known
	From      string // where the limit comes from: "--memory-limit", "GOMEMLIMIT", "cgroup", or ""
	SoftLimit int64  // the Go runtime's soft limit, 0 for none
	GCPercent int    // the collector's pace to set; 0: GOGC sets it
	Cache     int64  // the bound of the query cache, for every source together
	// CacheFits is the largest cache the limit allows (0: no limit known).
	CacheFits int64
}

// Inputs are what Decide reads; the zero value reads nothing.
type Inputs struct {
	Flag       int64         // --memory-limit, bytes (0: not given)
	GOMEMLIMIT string        // the environment variable, as set
	GOGC       string        // the environment variable, as set
	Cgroup     func() uint64 // the container's limit, 0 for none
	Cache      int64         // cache.max_bytes, 0: follow the limit
}

// FromEnvironment is Inputs read from this process's environment.
func FromEnvironment(flag, cache int64) Inputs {
	return Inputs{Flag: flag, GOMEMLIMIT: os.Getenv("GOMEMLIMIT"), GOGC: os.Getenv("GOGC"), Cache: cache, Cgroup: func() uint64 {
		n, err := memlimit.FromCgroup()
		if err != nil {
			return 0 // not in a cgroup, or no limit set
		}
		return n
	}}
}

// Decide settles the limit, the cache's bound and the soft limit. A cache
// bound given that cannot fit in the limit is an error saying what fits.
// The soft limit is the cache's bound times Overhead plus Reserve, and
// never more than 90% of the hard limit (the rest is the runtime's own,
// outside the heap).
func Decide(in Inputs) (Budget, error) {
	var b Budget
	if in.GOGC == "" {
		b.GCPercent = GCPercent // the operator's GOGC is taken as given
	}
	ceiling := int64(0) // what the heap may never pass
	switch {
	case in.Flag > 0:
		b.Limit, b.From = in.Flag, "--memory-limit"
	case in.GOMEMLIMIT != "" && in.GOMEMLIMIT != "off":
		// the operator set the soft limit: take it as given
		b.From = "GOMEMLIMIT"
		ceiling = debug.SetMemoryLimit(-1)
	case in.Cgroup != nil:
		if n := in.Cgroup(); n > 0 && n < math.MaxInt64/2 {
			b.Limit, b.From = int64(n), "cgroup"
		}
	}
	if b.Limit > 0 {
		ceiling = b.Limit - max(b.Limit/10, 16<<20)
	}
	if ceiling <= 0 || ceiling == math.MaxInt64 {
		b.From = ""
		b.Cache = DefaultCache
		if in.Cache > 0 {
			b.Cache = in.Cache
		}
		b.SoftLimit = b.softFor()
		return b, nil
	}
	usable := ceiling - Reserve
	if usable < minUsable {
		return b, fmt.Errorf("the memory limit of %s (%s) is too small: the gateway needs at least %s",
			size(max(b.Limit, ceiling)), b.From, size(limitFor(Reserve+minUsable)))
	}
	b.CacheFits = int64(float64(usable) / Overhead)
	b.Cache = usable / 2
	if in.Cache > 0 {
		if in.Cache > b.CacheFits {
			return b, fmt.Errorf("cache.max_bytes of %s does not fit in the memory limit of %s (%s): at most %s does, "+
				"since the gateway keeps %s for itself and the heap holds up to %.1f times what the cache counts; "+
				"lower cache.max_bytes (--cache-max-bytes), or leave it unset to follow the limit",
				size(in.Cache), size(max(b.Limit, ceiling)), b.From, size(b.CacheFits), size(Reserve), Overhead)
		}
		b.Cache = in.Cache
	}
	b.SoftLimit = b.softFor()
	if b.From == "GOMEMLIMIT" {
		b.SoftLimit = ceiling
	}
	return b, nil
}

// softFor is the soft limit that a full cache of b.Cache fits under.
func (b Budget) softFor() int64 { return int64(float64(b.Cache)*Overhead) + Reserve }

// limitFor is the hard limit whose soft limit is soft.
func limitFor(soft int64) int64 { return max(soft*10/9, soft+16<<20) }

// Apply sets the Go runtime's soft limit, unless GOMEMLIMIT already did,
// and the collector's pace, unless GOGC did.
func (b Budget) Apply() {
	if b.From != "GOMEMLIMIT" {
		debug.SetMemoryLimit(b.SoftLimit)
	}
	if b.GCPercent > 0 {
		debug.SetGCPercent(b.GCPercent)
	}
}

// String says what was decided, for the log.
func (b Budget) String() string {
	soft := "; Go soft limit " + size(b.SoftLimit)
	if b.GCPercent > 0 {
		soft += fmt.Sprintf(", collector pace %d%% (GOGC sets another)", b.GCPercent)
	}
	switch {
	case b.From == "":
		return "no memory limit known; query cache " + size(b.Cache) + soft
	case b.Limit > 0:
		return fmt.Sprintf("memory limit %s (%s); query cache %s%s", size(b.Limit), b.From, size(b.Cache), soft)
	}
	return fmt.Sprintf("%s; query cache %s%s", b.From, size(b.Cache), soft)
}

func size(n int64) string { return humanize.IBytes(uint64(n)) }

// ParseSize reads a size such as 512MiB, 1G or 268435456.
func ParseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return 0, errors.New("write a size such as 512MiB, 2GiB or a number of bytes")
	}
	return int64(n), nil
}
