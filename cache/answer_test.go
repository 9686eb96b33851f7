package cache_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/sources"
)

// TestAnswersFillTheirHoles: an answer's body takes each request's root
// and options where its holes are, plain and compressed alike, and the
// compressed copy kept for the first fill is not given to another.
func TestAnswersFillTheirHoles(t *testing.T) {
	body := []byte(`{"@odata.context":"$metadata#S","value":[],"@odata.nextLink":"S?$skiptoken=x"}`)
	ctxAt := bytes.Index(body, []byte("$metadata"))
	nextAt := bytes.Index(body, []byte("S?$skip")) // the root goes before S, the options after ?
	a := &cache.Answer{Body: body, Holes: []cache.Hole{{At: ctxAt, Kind: cache.HoleRoot}, {At: nextAt, Kind: cache.HoleRoot}, {At: nextAt + 2, Kind: cache.HoleOptions}}}
	for _, tc := range []struct {
		fill cache.Fill
		want string
	}{
		{cache.Fill{"http://a/odata/x/", "$filter=1&"}, `{"@odata.context":"http://a/odata/x/$metadata#S","value":[],"@odata.nextLink":"http://a/odata/x/S?$filter=1&$skiptoken=x"}`},
		{cache.Fill{"https://b.example/p/odata/x/", ""}, `{"@odata.context":"https://b.example/p/odata/x/$metadata#S","value":[],"@odata.nextLink":"https://b.example/p/odata/x/S?$skiptoken=x"}`},
	} {
		if got := string(a.AppendTo(nil, &tc.fill)); got != tc.want {
			t.Errorf("AppendTo:\n got %s\nwant %s", got, tc.want)
		}
		var w bytes.Buffer
		if err := a.WriteTo(&w, &tc.fill); err != nil || w.String() != tc.want {
			t.Errorf("WriteTo: %s %v", w.String(), err)
		}
		if n := a.Len(&tc.fill); n != len(tc.want) {
			t.Errorf("Len %d, want %d", n, len(tc.want))
		}
		for range 2 { // the kept copy, then the same again or one made apart
			zr, err := gzip.NewReader(bytes.NewReader(a.Gzipped(&tc.fill)))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(zr); string(got) != tc.want {
				t.Errorf("Gzipped:\n got %s\nwant %s", got, tc.want)
			}
		}
	}
}

// fill puts answers of set into c until it holds n, each of size bytes.
func fill(t *testing.T, c *cache.Answers, set string, n, size int) {
	t.Helper()
	for i := range n {
		_, err := c.Answer(context.Background(), set, fmt.Sprint(set, i), func(context.Context) (*cache.Answer, error) {
			return &cache.Answer{Body: bytes.Repeat([]byte{'x'}, size)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestWritesFreeTheirSetsEntries: a write frees every entry of its set at
// once, and only of its set; the bytes counted are those of live entries.
func TestWritesFreeTheirSetsEntries(t *testing.T) {
	store := cache.NewStore(64 << 20)
	defer store.Close()
	c := cache.New(cache.Options{Name: "demo", TTL: time.Hour, Store: store})
	fill(t, c, "Customers", 100, 10_000)
	fill(t, c, "Orders", 10, 10_000)
	if store.Len() != 110 {
		t.Fatalf("%d entries, want 110", store.Len())
	}
	before := store.Bytes()
	c.Written("Customers")
	if store.Len() != 10 {
		t.Fatalf("after the write %d entries are held, want the 10 of Orders", store.Len())
	}
	if after := store.Bytes(); after > before/10 || after < 10*10_000 {
		t.Fatalf("after the write %d bytes counted (before %d)", after, before)
	}
	c.FlushLocal("") // as when another replica flushes the source
	if store.Len() != 0 || store.Bytes() != 0 {
		t.Fatalf("after a flush %d entries, %d bytes", store.Len(), store.Bytes())
	}
}

// TestAnAnswerReadBeforeAWriteIsNotKept: an answer whose read started
// before a write and ended after it is given to its callers but not kept.
func TestAnAnswerReadBeforeAWriteIsNotKept(t *testing.T) {
	store := cache.NewStore(64 << 20)
	defer store.Close()
	c := cache.New(cache.Options{Name: "demo", TTL: time.Hour, Store: store})
	reading, written := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Answer(context.Background(), "Customers", "q", func(context.Context) (*cache.Answer, error) {
			close(reading)
			<-written
			return &cache.Answer{Body: []byte("old")}, nil
		})
		done <- err
	}()
	<-reading
	c.Written("Customers")
	close(written)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if store.Len() != 0 {
		t.Fatalf("%d entries kept; the answer read before the write must not be", store.Len())
	}
}

// TestSourcesShareOneBound: the gateway's sources fill one store, and it
// keeps within its bound whatever each fills.
func TestSourcesShareOneBound(t *testing.T) {
	const bound = 1 << 20
	store := cache.NewStore(bound)
	defer store.Close()
	a := cache.New(cache.Options{Name: "a", TTL: time.Hour, Store: store})
	b := cache.New(cache.Options{Name: "b", TTL: time.Hour, Store: store})
	for i := range 40 {
		fill(t, a, fmt.Sprint("A", i), 1, 30_000)
		fill(t, b, fmt.Sprint("B", i), 1, 30_000)
		if store.Bytes() > bound {
			t.Fatalf("the store counts %d bytes, over its bound of %d", store.Bytes(), bound)
		}
	}
	if store.Bytes() < bound/2 {
		t.Fatalf("the store holds only %d bytes", store.Bytes())
	}
	n := store.Len() // a closed source frees its entries, and only its own
	a.Close()
	if store.Len() == 0 || store.Len() >= n {
		t.Fatalf("after closing one source %d entries (before %d)", store.Len(), n)
	}
}

// TestRecall: a remembered request finds its fresh answer by fingerprint,
// not when the caller may not read the set, not after a write, and never
// another caller's answer on a per-user source.
func TestRecall(t *testing.T) {
	store := cache.NewStore(64 << 20)
	defer store.Close()
	c := cache.New(cache.Options{Name: "demo", TTL: time.Hour, Store: store})
	anyone := func(string) bool { return true }
	alice := sources.WithCaller(context.Background(), sources.Caller{User: "alice", Role: "r_alice"})
	bob := sources.WithCaller(context.Background(), sources.Caller{User: "bob", Role: "r_bob"})
	answer := func(ctx context.Context, body string) {
		if _, err := c.Answer(ctx, "Customers", "text", func(context.Context) (*cache.Answer, error) {
			return &cache.Answer{Body: []byte(body)}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	recall := func(ctx context.Context, may func(string) bool) string {
		ctx = cache.WithStatus(ctx)
		a, set, ok := c.Recall(ctx, []byte("fp"), readerFunc(may))
		if !ok {
			return ""
		}
		if set != "Customers" || cache.StatusOf(ctx).String() != "hit" {
			t.Fatalf("recalled set %q, status %q", set, cache.StatusOf(ctx))
		}
		return string(a.Body)
	}
	if got := recall(alice, anyone); got != "" {
		t.Fatalf("recalled %q before anything was remembered", got)
	}
	answer(alice, "alice's rows")
	c.Remember("fp", "Customers", "text")
	if got := recall(alice, anyone); got != "alice's rows" {
		t.Fatalf("alice recalled %q", got)
	}
	if got := recall(bob, anyone); got != "" {
		t.Fatalf("bob recalled %q: another caller's answer", got)
	}
	if got := recall(alice, func(set string) bool { return set != "Customers" }); got != "" {
		t.Fatalf("recalled %q for a caller who may not read the set", got)
	}
	c.Written("Customers")
	if got := recall(alice, anyone); got != "" {
		t.Fatalf("recalled %q after a write", got)
	}
}

// TestEntriesCostWhatTheyCount: the heap an entry takes is within 1.3
// times what the store counts for it, for small answers (a record page)
// and large ones (a page of a thousand rows).
func TestEntriesCostWhatTheyCount(t *testing.T) {
	for _, tc := range []struct {
		n, size int
	}{{20_000, 600}, {200, 150_000}} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			store := cache.NewStore(1 << 30)
			defer store.Close()
			c := cache.New(cache.Options{Name: "demo", TTL: time.Hour, Store: store})
			before := heap()
			for i := range tc.n {
				text := strings.Repeat("k", 80) + fmt.Sprint(i) // a canonical query's length
				_, err := c.Answer(context.Background(), "Customers", text, func(context.Context) (*cache.Answer, error) {
					return &cache.Answer{ContentType: "application/json;odata.metadata=minimal", Body: bytes.Clone(make([]byte, tc.size)),
						Holes: []cache.Hole{{At: 20, Kind: cache.HoleRoot}}}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			held := heap() - before
			counted := store.Bytes()
			ratio := float64(held) / float64(counted)
			t.Logf("%d answers of %d bytes: heap %d, counted %d, %.2f", tc.n, tc.size, held, counted, ratio)
			if ratio > 1.3 {
				t.Fatalf("the heap holds %.2f times what the store counts", ratio)
			}
			runtime.KeepAlive(c)
		})
	}
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// readerFunc is a function as a cache.Reader.
type readerFunc func(string) bool

func (f readerFunc) MayReadSet(set string) bool { return f(set) }
