// Command bench measures the gateway on a big PostgreSQL table under the
// requests Salesforce sends, beside a floor: a minimal server that runs the
// same SQL through pgx and writes the rows as plain JSON, with no OData.
// Each figure is printed with its ratio to the floor.
//
//	go run ./tests/bench                       # 10 million rows, 10 s per request
//	go run ./tests/bench -rows 1000000 -d 5s   # smaller and quicker
//
// It creates its own database on the server -postgres names (default
// ODATAGW_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres),
// or -mysql names (MySQL or MariaDB: the floor then uses the same driver as
// the gateway, go-sql-driver/mysql), and drops it at the end unless -keep;
// -db reuses a kept one. It only
// loads loopback addresses, and every run is bounded in time.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources/sqlgen"
	"github.com/odatagw/odatagw/tests/load/loadgen"
)

// Settings of one run.
type Settings struct {
	Postgres string        // server to create the database on
	MySQL    string        // a MySQL/MariaDB server instead (mysql://user@host:3306/db)
	Database string        // an existing database to use ("" : create one)
	Keep     bool          // keep the created database
	Rows     int           // rows of the main table
	Duration time.Duration // per request and target
	Rounds   int           // Duration is split into this many runs, the targets taking turns
	Clients  int
	Only     string // run only the mix request with this name
	HitOnly  bool   // run only the comparison of a cache hit with a bare server
	Out      io.Writer
}

// mixRequest is one request of Salesforce's mix, below the service root.
type mixRequest struct{ name, url string }

func mix(rows int) []mixRequest {
	return []mixRequest{
		{"list view with count", "accounts?$select=id,name,city,created&$count=true&$top=26"},
		{"filtered list view", "accounts?$select=id,name,city,created&$filter=city eq 'Lyon'&$count=true&$top=26"},
		{"record by key", fmt.Sprintf("accounts({rand:1-%d})", rows)},
		{"related list", fmt.Sprintf("contacts?$select=id,name,email&$filter=account_id eq {rand:1-%d}&$top=26", rows)},
		{"$search", "accounts?$select=id,name&$search=acme&$top=25"},
		{"contains", "accounts?$select=id,name&$filter=contains(note,'7f3a') eq true&$top=25"},
		{"contains, no match", "accounts?$select=id,name&$filter=contains(note,'7f3z') eq true&$top=25"},
		{"startswith", "accounts?$select=id,name&$filter=startswith(name,'Hooli 3f') eq true&$top=25"},
		{"1,000-row page", "accounts?$select=id,name,email,city,country,created,amount&$top=1000"},
	}
}

// Run creates the data, starts the gateway and the floor on loopback,
// runs the mix against each, and prints the table.
func Run(ctx context.Context, s Settings) error {
	s.Rounds = max(s.Rounds, 1)
	var db backend
	var err error
	if s.MySQL != "" {
		db, err = openMySQL(ctx, s)
	} else {
		db, err = openPostgres(ctx, s)
	}
	if err != nil {
		return err
	}
	defer db.close(s.Keep)
	dsn := db.dsn()
	if s.Database == "" {
		start := time.Now()
		if err := db.generate(ctx, s.Rows); err != nil {
			return fmt.Errorf("generating the data: %w", err)
		}
		fmt.Fprintf(s.Out, "generated %d accounts and %d contacts with their indexes in %v\n", s.Rows, s.Rows/2, time.Since(start).Round(time.Second))
	}
	start := time.Now()
	n, err := applyAdvice(ctx, db)
	if err != nil {
		return fmt.Errorf("applying odatagw check --indexes: %w", err)
	}
	fmt.Fprintf(s.Out, "applied the %d items odatagw check --indexes advised in %v\n", n, time.Since(start).Round(time.Second))

	// the gateway: one source with the cache off, one with it on
	zero, hour := config.Duration(0), config.Duration(time.Hour)
	gw, err := app.Open(ctx, app.Settings{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sources: map[string]config.Source{
			"uncached": {DSN: dsn, CacheTTL: &zero, Auth: config.Auth{Anonymous: true}},
			"cached":   {DSN: dsn, CacheTTL: &hour, Auth: config.Auth{Anonymous: true}},
		}})
	if err != nil {
		return err
	}
	defer gw.Close()
	serving, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	go gw.Serve(serving, ready)
	gwAddr := <-ready
	src, _ := gw.Server.Source("uncached")
	floorAddr, closeFloor, err := serveFloor(db, src.Metadata())
	if err != nil {
		return err
	}
	defer closeFloor()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: s.Clients * 2}, Timeout: 2 * time.Minute}
	tw := tabwriter.NewWriter(s.Out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(s.Out, "\n%d rows, %d clients, %v per figure in %d runs, %d cores (%s/%s), %s\n", s.Rows, s.Clients, s.Duration, s.Rounds, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, db.version(ctx))
	fmt.Fprintln(tw, "request\tfloor req/s\tp50\tuncached req/s\tx floor\tp50\tcached req/s\tx floor\tp50\t")
	failed := 0
	for _, m := range mix(s.Rows) {
		if s.HitOnly || (s.Only != "" && m.name != s.Only) {
			continue
		}
		bases := []string{"http://" + floorAddr + "/", "http://" + gwAddr + "/odata/uncached/", "http://" + gwAddr + "/odata/cached/"}
		for _, base := range bases {
			if err := loadgen.CheckLoopback(base); err != nil {
				return err
			}
		}
		// short runs in turn, each target taking each place in the order,
		// so that drift in the database (its caches warming, a checkpoint)
		// and the first touch of a round's random keys fall on all alike
		var runs [3][]loadgen.Result
		for round := range s.Rounds {
			for j := range bases {
				i := (j + round) % len(bases)
				rq := loadgen.Request{URL: bases[i] + escape(m.url), Header: "OData-MaxVersion: 4.01", Seed: uint64(round)}
				runs[i] = append(runs[i], loadgen.Repeat(client, rq, s.Clients, s.Duration/time.Duration(s.Rounds), loadgen.MaxRequests))
			}
		}
		var res [3]loadgen.Result
		for i, base := range bases {
			res[i] = loadgen.Merge(runs[i]...)
			failed += res[i].Failed
			if res[i].Failed > 0 {
				fmt.Fprintf(s.Out, "%s: %d of %d requests failed against %s\n", m.name, res[i].Failed, res[i].Requests, base)
			}
		}
		f := res[0].PerSecond()
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%.2f\t%s\t%.0f\t%.2f\t%s\t\n", m.name, f, ms(res[0].P50),
			res[1].PerSecond(), res[1].PerSecond()/f, ms(res[1].P50), res[2].PerSecond(), res[2].PerSecond()/f, ms(res[2].P50))
	}
	tw.Flush()
	if s.Only == "" {
		n, err := compareHit(s, client, "http://"+gwAddr+"/odata/cached/"+escape(mix(s.Rows)[0].url))
		if err != nil {
			return err
		}
		failed += n
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed", failed)
	}
	return nil
}

// compareHit measures a cache hit of the list view against a bare Go
// net/http server that sends the same body with the same headers, the
// two taking turns, and prints both: once as plain JSON (the client asks
// for no compression) and once gzipped (the client asks for gzip, and the
// bare server sends a copy it compressed once, as the cache does). It
// returns the failed requests.
func compareHit(s Settings, client *http.Client, cachedURL string) (int, error) {
	req, _ := http.NewRequest("GET", cachedURL, nil)
	req.Header.Set("OData-MaxVersion", "4.01")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		return 0, fmt.Errorf("the list view answered %d: %v", res.StatusCode, err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(body)
	zw.Close()
	contentType := res.Header.Get("Content-Type")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("OData-Version", "4.01")
		h.Set("Vary", "Accept-Encoding")
		b := body
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			b = zipped.Bytes()
		}
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})}
	go bare.Serve(ln)
	defer bare.Close()
	// the client's own transparent decompression would run on the same
	// cores for one side only: plain asks for no compression, gzip asks
	// for it by name and leaves the bytes compressed
	plain := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: s.Clients * 2, DisableCompression: true}, Timeout: 2 * time.Minute}
	defer plain.CloseIdleConnections()
	failed := 0
	for _, c := range []struct {
		name, header string
		client       *http.Client
	}{
		{"plain", "OData-MaxVersion: 4.01", plain},
		{"gzip", "OData-MaxVersion: 4.01\nAccept-Encoding: gzip", client},
	} {
		urls := []string{"http://" + ln.Addr().String() + "/", cachedURL}
		var runs [2][]loadgen.Result
		for round := range s.Rounds {
			for j := range urls {
				i := (j + round) % len(urls)
				runs[i] = append(runs[i], loadgen.Repeat(c.client, loadgen.Request{URL: urls[i], Header: c.header}, s.Clients, s.Duration/time.Duration(s.Rounds), loadgen.MaxRequests))
			}
		}
		b, g := loadgen.Merge(runs[0]...), loadgen.Merge(runs[1]...)
		size := len(body)
		if c.name == "gzip" {
			size = zipped.Len()
		}
		fmt.Fprintf(s.Out, "\ncache hit of the list view against a bare net/http server sending the same body, %s (%d bytes):\n", c.name, size)
		fmt.Fprintf(s.Out, "  bare server   %8.0f req/s  p50 %s\n", b.PerSecond(), ms(b.P50))
		fmt.Fprintf(s.Out, "  gateway hit   %8.0f req/s  p50 %s  %.2fx the bare server\n", g.PerSecond(), ms(g.P50), g.PerSecond()/b.PerSecond())
		failed += b.Failed + g.Failed
	}
	return failed, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// escape encodes a readable URL's query as a client does.
func escape(readable string) string {
	path, query, ok := strings.Cut(readable, "?")
	if !ok {
		return path
	}
	r := strings.NewReplacer(" ", "%20", "'", "%27")
	return path + "?" + r.Replace(query)
}

// serveFloor serves the mix without OData: each URL is planned, rendered
// to SQL and run as the gateway does, and the rows go out as plain JSON
// arrays (with the count beside them, run at the same time, when asked).
// It is what any server in front of this database must at least spend.
func serveFloor(db backend, svc *metadata.Service) (string, func(), error) {
	d := db.dialect()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, perr := uri.Parse(strings.TrimPrefix(r.URL.EscapedPath(), "/"), r.URL.RawQuery)
		if perr != nil {
			http.Error(w, perr.Message, 400)
			return
		}
		p, berr := plan.Build(svc, req, "GET")
		if berr != nil {
			http.Error(w, berr.Message, berr.Status)
			return
		}
		if p.Kind == plan.KindCollection {
			p.Query.Limit = 1000
			if p.Top != nil {
				p.Query.Limit = int(min(*p.Top, 1000))
			}
		}
		text, args, err := sqlgen.Select(d, &p.Query)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var count int64
		var out [][]any
		g, ctx := errgroup.WithContext(r.Context())
		if p.Count {
			ctext, cargs, _ := sqlgen.Count(d, &p.Query)
			g.Go(func() (err error) { count, err = db.count(ctx, &p.Query, ctext, cargs); return err })
		}
		g.Go(func() (err error) { out, err = db.rows(ctx, &p.Query, text, args); return err })
		if err := g.Wait(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"count": count, "rows": out})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

func main() {
	def := os.Getenv("ODATAGW_TEST_POSTGRES_URL")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/postgres"
	}
	var s Settings
	flag.StringVar(&s.Postgres, "postgres", def, "PostgreSQL server on this machine to create the benchmark database on")
	flag.StringVar(&s.MySQL, "mysql", "", "a MySQL or MariaDB server on this machine to run against instead, e.g. mysql://root@127.0.0.1:3306/test")
	flag.StringVar(&s.Database, "db", "", "use this existing database (made by an earlier -keep run) instead of generating one")
	flag.BoolVar(&s.Keep, "keep", false, "keep the generated database")
	flag.IntVar(&s.Rows, "rows", 10_000_000, "rows of the main table")
	flag.DurationVar(&s.Duration, "d", 10*time.Second, "how long each request runs against each target")
	flag.IntVar(&s.Clients, "c", 16, "concurrent clients")
	flag.IntVar(&s.Rounds, "rounds", 5, "split each figure's time into this many runs, the three targets taking turns")
	flag.StringVar(&s.Only, "only", "", "run only the request of the mix with this name, e.g. \"related list\"")
	flag.BoolVar(&s.HitOnly, "hit", false, "run only the comparison of a cache hit of the list view with a bare net/http server sending the same body")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (gateway, floor and clients) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	s.Out = os.Stdout
	server := s.Postgres
	if s.MySQL != "" {
		server = s.MySQL
	}
	u, err := url.Parse(server)
	if err != nil || loadgen.CheckLoopback("http://"+u.Host) != nil {
		fmt.Fprintln(os.Stderr, "bench: -postgres and -mysql must name a server on this machine")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
	defer cancel()
	if err := Run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
