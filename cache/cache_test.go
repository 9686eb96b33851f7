package cache_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

// counting wraps the real demo source and counts the queries that reach
// it; delay makes each one slow enough for concurrent callers to meet.
type counting struct {
	sources.Source
	queries, counts atomic.Int64
	delay           time.Duration
}

func (c *counting) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	c.queries.Add(1)
	time.Sleep(c.delay)
	return c.Source.Query(ctx, q)
}

func (c *counting) Count(ctx context.Context, q *plan.Query) (int64, error) {
	c.counts.Add(1)
	return c.Source.Count(ctx, q)
}

func (c *counting) Insert(ctx context.Context, set *metadata.EntitySet, v []plan.Assignment) ([]any, error) {
	return c.Source.(sources.Writer).Insert(ctx, set, v)
}

func (c *counting) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, v []plan.Assignment, check func([]any) error) ([]any, error) {
	return c.Source.(sources.Writer).Update(ctx, set, key, v, check)
}

func (c *counting) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	return c.Source.(sources.Writer).Delete(ctx, set, key, check)
}

var (
	demoOnce sync.Once
	demoSrc  sources.Source
	demoErr  error
)

// TestMain closes the demo the tests share, which removes its file: a
// test binary must leave no demo database behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if demoSrc != nil {
		demoSrc.Close()
	}
	os.Exit(code)
}

func demoSource(t *testing.T) sources.Source {
	demoOnce.Do(func() { demoSrc, demoErr = demo.Open(context.Background(), sources.Options{Name: "demo"}) })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoSrc
}

func query(t *testing.T, src sources.Source, q string) *plan.Query {
	t.Helper()
	path, raw, _ := strings.Cut(q, "?")
	req, err := uri.Parse(path, raw)
	if err != nil {
		t.Fatal(err)
	}
	p, berr := plan.Build(src.Metadata(), req, "GET")
	if berr != nil {
		t.Fatal(berr)
	}
	p.Query.Limit = 27
	return &p.Query
}

// answers is a source's answer cache in the tests, with the source the
// answers are rendered from.
type answers struct {
	*cache.Answers
	src sources.Source
}

func newAnswers(src sources.Source, o cache.Options) answers {
	o.Version = func() string { return src.Metadata().Version() }
	return answers{cache.New(o), src}
}

// read asks the cache for the answer of q, rendered (on a miss) from the
// rows the source returns; it returns the answer's body and what the
// cache did.
func read(t *testing.T, c answers, q *plan.Query) (body string, status string) {
	t.Helper()
	ctx := cache.WithStatus(context.Background())
	a, err := c.Answer(ctx, q.Set.Name, plan.QueryKey(q), func(ctx context.Context) (*cache.Answer, error) {
		return render(ctx, c.src, q)
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(a.AppendTo(nil, &cache.Fill{})), cache.StatusOf(ctx).String()
}

// render writes the rows of q as an answer's body, one row a line.
func render(ctx context.Context, src sources.Source, q *plan.Query) (*cache.Answer, error) {
	rs, err := src.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var b []byte
	for rs.Next() {
		b = fmt.Appendln(b, rs.Values()...)
	}
	return &cache.Answer{ContentType: "text/plain", Body: b}, rs.Err()
}

func TestHitsDoNotReachTheDatabase(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	c := newAnswers(inner, cache.Options{TTL: time.Minute})
	q := query(t, inner, "Customers?$select=CustomerId,Name&$filter=Country%20eq%20'USA'")
	first, st1 := read(t, c, q)
	second, st2 := read(t, c, q)
	if st1 != "miss" || st2 != "hit" || inner.queries.Load() != 1 {
		t.Fatalf("statuses %s, %s; %d queries reached the database", st1, st2, inner.queries.Load())
	}
	if first == "" || first != second {
		t.Fatal("the hit differs from the miss")
	}
}

func TestWritesInvalidateAtOnce(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	c := newAnswers(inner, cache.Options{TTL: time.Hour})
	q := query(t, inner, "Customers?$select=CustomerId,City&$filter=CustomerId%20eq%207")
	before, _ := read(t, c, q)
	es, _ := inner.Metadata().EntitySet("Customers")
	city, _ := es.Type.Property("City")
	id, _ := es.Type.Property("CustomerId")
	newCity := fmt.Sprintf("Bumped %d", time.Now().UnixNano())
	if _, err := inner.Update(context.Background(), es, []plan.KeyValue{{Prop: id, Value: int64(7)}}, []plan.Assignment{{Prop: city, Value: newCity}}, nil); err != nil {
		t.Fatal(err)
	}
	c.Written("Customers") // as the server says of each write, before it answers
	after, st := read(t, c, q)
	if st != "miss" || !strings.Contains(after, newCity) {
		t.Fatalf("after the write: %s %v (before %v)", st, after, before)
	}
}

func TestIdenticalMissesCollapse(t *testing.T) {
	inner := &counting{Source: demoSource(t), delay: 100 * time.Millisecond}
	c := newAnswers(inner, cache.Options{TTL: time.Minute})
	q := query(t, inner, "Orders?$select=OrderId&$filter=Total%20gt%20100")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read(t, c, q)
		}()
	}
	wg.Wait()
	if n := inner.queries.Load(); n != 1 {
		t.Fatalf("50 identical concurrent misses ran %d queries", n)
	}
}

func TestMemoryStaysWithinTheBound(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	const bound = 256 << 10
	c := newAnswers(inner, cache.Options{TTL: time.Minute, MaxBytes: bound})
	for i := 0; i < 400; i++ {
		read(t, c, query(t, inner, fmt.Sprintf("Customers?$filter=CustomerId%%20gt%%20%d", i*20)))
		if b := c.Bytes(); b > bound {
			t.Fatalf("after %d queries the cache holds %d bytes, over its bound of %d", i+1, b, bound)
		}
	}
	if c.Stats("Customers").Evictions.Load() == 0 {
		t.Fatal("nothing was evicted; the test proved nothing")
	}
}

func TestTTLZeroForASetBypasses(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	c := newAnswers(inner, cache.Options{TTL: time.Minute, SetTTL: map[string]time.Duration{"Orders": 0}})
	q := query(t, inner, "Orders?$select=OrderId")
	read(t, c, q)
	_, st := read(t, c, q)
	if st != "bypass" || inner.queries.Load() != 2 {
		t.Fatalf("status %s, %d queries", st, inner.queries.Load())
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	c := newAnswers(inner, cache.Options{TTL: 100 * time.Millisecond, StaleWhileRevalidate: true})
	q := query(t, inner, "Products?$select=ProductId")
	read(t, c, q)
	// a hit until the TTL passes, then stale
	st := "hit"
	for deadline := time.Now().Add(5 * time.Second); st == "hit" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		_, st = read(t, c, q)
	}
	if st != "stale" {
		t.Fatalf("past the TTL: %s, want stale", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for inner.queries.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no refresh ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// the refreshed answer is kept as the refresh ends
	for deadline := time.Now().Add(5 * time.Second); st != "hit" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		_, st = read(t, c, q)
	}
	if st != "hit" {
		t.Fatalf("after the refresh: %s, want hit", st)
	}
}

func TestCountsAreCachedApart(t *testing.T) {
	inner := &counting{Source: demoSource(t)}
	c := newAnswers(inner, cache.Options{TTL: time.Minute})
	for page := 0; page < 5; page++ {
		q := query(t, inner, fmt.Sprintf("Orders?$select=OrderId&$filter=Priority%%20eq%%202&$skip=%d", page*26))
		read(t, c, q)
		if _, err := c.Count(context.Background(), q.Set.Name, plan.CountKey(q), func(ctx context.Context) (int64, error) { return inner.Count(ctx, q) }); err != nil {
			t.Fatal(err)
		}
	}
	if n := inner.counts.Load(); n != 1 {
		t.Fatalf("paging five pages counted %d times", n)
	}
}
