package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// BenchmarkServeEntity measures a record page's read (an entity by key,
// cache off) through the whole OData handler, without the network: what
// the gateway adds to the database's work, and what it allocates.
//
//	ODATAGW_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//	  go test ./internal/app -run '^$' -bench ServeEntity -benchmem
func BenchmarkServeEntity(b *testing.B) {
	off := time.Duration(0)
	b.Run("demo", func(b *testing.B) {
		benchmarkServe(b, Settings{Defaults: config.File{Cache: config.Cache{TTL: &off}}}, "/odata/demo/Customers(1)")
	})
	noShapes := false
	b.Run("demo, no shapes", func(b *testing.B) {
		benchmarkServe(b, Settings{Defaults: config.File{Cache: config.Cache{TTL: &off}, RecordShapes: &noShapes}}, "/odata/demo/Customers(1)")
	})
	b.Run("postgres", func(b *testing.B) {
		db := testdb.NewPostgres(b, testdb.Fixture("fixture.sql"))
		none := config.Duration(0)
		benchmarkServe(b, Settings{Sources: map[string]config.Source{
			"erp": {DSN: db.DSN, CacheTTL: &none, Auth: config.Auth{Anonymous: true}}}}, "/odata/erp/Customers(1)")
	})
}

// BenchmarkServeListView measures a list view (26 rows with their count,
// cache off) through the whole OData handler: parse, plan, SQL, the page
// and its count side by side, the JSON.
//
//	go test ./internal/app -run '^$' -bench ServeListView -benchmem
func BenchmarkServeListView(b *testing.B) {
	off := time.Duration(0)
	benchmarkServe(b, Settings{Defaults: config.File{Cache: config.Cache{TTL: &off}}}, "/odata/demo/Customers?$select=CustomerId,Name,City&$count=true&$filter=Country%20eq%20'USA'&$orderby=City&$top=26")
}

// BenchmarkServeCachedHit measures a repeated list view answered from the
// cache (the demo, cache on), through the whole OData handler: the lookup
// by fingerprint and the copy, and what that allocates.
//
//	go test ./internal/app -run '^$' -bench ServeCachedHit -benchmem
func BenchmarkServeCachedHit(b *testing.B) {
	list := "/odata/demo/Customers?$select=CustomerId,Name&$count=true&$top=26"
	b.Run("list view", func(b *testing.B) { benchmarkServe(b, Settings{}, list) })
	b.Run("list view, gzip", func(b *testing.B) { benchmarkServe(b, Settings{}, list, "Accept-Encoding", "gzip") })
	b.Run("record page", func(b *testing.B) { benchmarkServe(b, Settings{}, "/odata/demo/Customers(1)") })
	// the shape table off: what recording shapes costs a hit
	off := false
	b.Run("list view, no shapes", func(b *testing.B) {
		benchmarkServe(b, Settings{Defaults: config.File{RecordShapes: &off}}, list)
	})
}

func benchmarkServe(b *testing.B, s Settings, path string, headers ...string) {
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := Open(context.Background(), s)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	h := g.Server.Handler()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("OData-MaxVersion", "4.01")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := &discardWriter{header: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("GET %s: status %d", path, w.status)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, req)
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so that
// the benchmark measures the handler rather than a recorder's copying.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header    { return d.header }
func (d *discardWriter) WriteHeader(status int) { d.status = status }
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkServeThroughService measures what a service over several
// sources adds to a request: the same record page (cache off) and the
// same cached list view, through the member's own root and through the
// service (whose model is composed once, and whose set runs on its
// member's connections and cache).
//
//	ODATAGW_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//	  go test ./internal/app -run '^$' -bench ServeThroughService -benchmem
func BenchmarkServeThroughService(b *testing.B) {
	db := testdb.NewPostgres(b, testdb.Fixture("fixture.sql"))
	lite := "sqlite:" + b.TempDir() + "/billing.db"
	services := map[string]config.Service{"all": {Sources: map[string]config.Member{"erp": {}, "billing": {Prefix: "billing_"}},
		Auth: config.Auth{Anonymous: true}}}
	settings := func(ttl config.Duration) Settings {
		return Settings{Defaults: config.File{Services: services}, Sources: map[string]config.Source{
			"erp":     {DSN: db.DSN, CacheTTL: &ttl, Auth: config.Auth{Anonymous: true}},
			"billing": {DSN: lite, CacheTTL: &ttl, Auth: config.Auth{Anonymous: true}}}}
	}
	list := "Customers?$select=CustomerId,Name&$count=true&$top=26"
	for _, c := range []struct {
		name, path string
		ttl        config.Duration
	}{
		{"record page, member root", "/odata/erp/Customers(1)", 0},
		{"record page, service", "/odata/all/Customers(1)", 0},
		{"cached list view, member root", "/odata/erp/" + list, config.Duration(time.Hour)},
		{"cached list view, service", "/odata/all/" + list, config.Duration(time.Hour)},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkServe(b, settings(c.ttl), c.path) })
	}
}
