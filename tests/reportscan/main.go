// Command reportscan measures what a Salesforce report of event counts by
// kind and month costs over a PostgreSQL table of events: as the detail
// rows Salesforce reads today (every row, page after page, grouped in
// Salesforce), and as one read of a summary set that the database groups.
// For each it prints requests, bytes, seconds, and the database time the
// gateway reported (Server-Timing).
//
//	go run ./tests/reportscan                  # 250,000 events
//	go run ./tests/reportscan -events 1000000
//
// It creates its own database on the server -postgres names (default
// ODATAGW_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres)
// and drops it at the end; the gateway runs in this process on a loopback
// port, without its cache, so that every figure is the database's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

func main() {
	pg := flag.String("postgres", os.Getenv(testdb.PostgresEnv), "the PostgreSQL server to create the database on")
	events := flag.Int("events", 250_000, "rows of the events table")
	rounds := flag.Int("rounds", 3, "runs of each way, the best kept")
	flag.Parse()
	if *pg == "" {
		*pg = "postgres://postgres@127.0.0.1:5432/postgres"
	}
	if err := run(*pg, *events, *rounds, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reportscan:", err)
		os.Exit(1)
	}
}

// ways are the two ways to the same report: the detail scan Salesforce
// makes (server-driven pages of 2,000, Salesforce's largest, or
// client-driven ones of 500 with $skip, its default), and the summary
// set.
var ways = []struct{ name, url, prefer string }{
	{"detail rows, server-driven pages", "events?$select=id,kind,at&$count=true", "odata.maxpagesize=2000"},
	{"detail rows, client-driven pages ($skip)", "events?$select=id,kind,at&$count=true&$top=500&$skip=0", ""},
	{"summary set kind_months", "kind_months?$count=true&$top=2000", ""},
}

func run(pgURL string, events, rounds int, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	db, err := testdb.CreatePostgres(ctx, pgURL)
	if err != nil {
		return err
	}
	defer db.Drop()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`
		CREATE TABLE events (id bigint PRIMARY KEY, account_id integer NOT NULL, kind varchar(20) NOT NULL,
			at timestamptz NOT NULL, amount numeric(12,2) NOT NULL, note text);
		INSERT INTO events SELECT i, 1 + i %% 5000, (ARRAY['click','view','buy','refund','signup'])[1 + i %% 5],
			timestamptz '2025-01-01 00:00:00+00' + (i * interval '1 minute') * (730.0 * 1440 / %d),
			(i * 37 %% 100000) / 100.0, 'note ' || md5(i::text)
		FROM generate_series(1, %d) i;
		ANALYZE events;`, events, events)); err != nil {
		return err
	}
	hour := time.Duration(-1)
	set := app.Settings{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Defaults: config.File{Cache: config.Cache{TTL: &hour}},
		Sources: map[string]config.Source{"erp": {DSN: db.DSN, Auth: config.Auth{Anonymous: true}, Summaries: map[string]config.Summary{
			"kind_months": {From: "events", Dimensions: []config.Dimension{{Column: "kind"}, {Column: "at", Bucket: "month"}},
				Measures: config.Measures{{Name: "events", Of: "count"}, {Name: "amount", Of: "sum(amount)"}}}}}}}
	gw, err := app.Open(ctx, set)
	if err != nil {
		return err
	}
	defer gw.Close()
	serving, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	go gw.Serve(serving, ready)
	root := "http://" + <-ready + "/odata/erp/"

	fmt.Fprintf(out, "A report of event counts by kind and month over %d events (PostgreSQL, no cache; best of %d runs)\n\n", events, rounds)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "way\trequests\trows\tbytes\tseconds\tdatabase seconds\tpast 16 MB after\t")
	for _, w := range ways {
		var best *scan
		for range rounds {
			s, err := read(ctx, root, w.url, w.prefer)
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			if best == nil || s.took < best.took {
				best = s
			}
		}
		past := "-"
		if best.pastLimit > 0 {
			past = strconv.Itoa(best.pastLimit) + " requests"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.2f\t%.2f\t%s\t\n", w.name, best.requests, best.rows, size(best.bytes), best.took.Seconds(), best.db.Seconds(), past)
	}
	return tw.Flush()
}

func size(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// scan is what reading one way took.
type scan struct {
	requests, rows int
	bytes          int64
	took, db       time.Duration
	pastLimit      int // the request that passed Salesforce's 16 MB, 0 if none
}

var dbTiming = regexp.MustCompile(`\bdb;dur=([0-9.]+)`)

// read follows a way to its end: nextLinks, or $skip by the page's size.
func read(ctx context.Context, root, first, prefer string) (*scan, error) {
	s := &scan{}
	start := time.Now()
	next := root + first
	for next != "" && s.requests < 100_000 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		if prefer != "" {
			req.Header.Set("Prefer", prefer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %d %s", next, res.StatusCode, body)
		}
		s.requests++
		s.bytes += int64(len(body))
		if s.bytes >= 16<<20 && s.pastLimit == 0 {
			s.pastLimit = s.requests
		}
		if m := dbTiming.FindStringSubmatch(res.Header.Get("Server-Timing")); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			s.db += time.Duration(ms * float64(time.Millisecond))
		}
		var page struct {
			Value []json.RawMessage `json:"value"`
			Next  string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		s.rows += len(page.Value)
		next = page.Next
		if next == "" && prefer == "" && len(page.Value) == 500 {
			// client-driven: the next $skip, as Salesforce's queryMore asks
			u, _ := url.Parse(root + first)
			q := u.Query()
			q.Set("$skip", strconv.Itoa(s.rows))
			u.RawQuery = q.Encode()
			next = u.String()
		}
	}
	s.took = time.Since(start)
	return s, nil
}
