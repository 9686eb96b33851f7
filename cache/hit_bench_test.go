package cache_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/replicas"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

// BenchmarkHit measures a kept answer found again, alone, and with the set's shared
// generation read from Redis first (replicas sharing a Redis):
//
//	ODATAGW_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./cache -run '^$' -bench Hit
func BenchmarkHit(b *testing.B) {
	src, err := demo.Open(context.Background(), sources.Options{Name: "demo"})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	path, raw, _ := strings.Cut("Customers?$select=CustomerId,Name&$filter=Country%20eq%20'USA'", "?")
	req, _ := uri.Parse(path, raw)
	p, _ := plan.Build(src.Metadata(), req, "GET")
	p.Query.Limit = 26
	run := func(b *testing.B, c *cache.Answers) {
		ctx := context.Background()
		render := func(ctx context.Context) (*cache.Answer, error) {
			rs, err := src.Query(ctx, &p.Query)
			if err != nil {
				return nil, err
			}
			defer rs.Close()
			var body []byte
			for rs.Next() {
				body = fmt.Appendln(body, rs.Values()...)
			}
			return &cache.Answer{Body: body}, rs.Err()
		}
		key := plan.QueryKey(&p.Query)
		for b.Loop() {
			if _, err := c.Answer(ctx, "Customers", key, render); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("alone", func(b *testing.B) { run(b, cache.New(cache.Options{Name: "demo", TTL: time.Hour})) })
	b.Run("shared generation", func(b *testing.B) {
		bus, err := replicas.NewRedisBus(testdb.RedisURL(b), testdb.RedisPrefix(b, testdb.RedisURL(b)), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		defer bus.Close()
		for bus.Err() != nil || !bus.Subscribed() {
			time.Sleep(10 * time.Millisecond)
		}
		run(b, cache.New(cache.Options{Name: "demo", TTL: time.Hour, Bus: bus}))
	})
}
