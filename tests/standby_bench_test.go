package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// BenchmarkPrimaryCPUPerRequest measures the CPU the primary PostgreSQL
// server spends per request of a Salesforce mix (list views with their
// count, record pages, searches, related lists, one edit in twenty),
// served without a standby and with one, without the query cache so
// that every read reaches a database. The servers must run on this
// machine: their CPU is read from /proc.
//
//	go test ./tests -run '^$' -bench PrimaryCPUPerRequest -benchtime 4000x
func BenchmarkPrimaryCPUPerRequest(b *testing.B) {
	if os.Getenv(testdb.PostgresEnv) == "" {
		b.Skip("set " + testdb.PostgresEnv)
	}
	db := testdb.NewPostgres(b, testdb.Fixture("fixture.sql"))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		b.Fatal(err)
	}
	var backend int
	conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend)
	conn.Close(ctx)
	primaryPID := parentOf(backend)
	standby := testdb.NewStandby(b, testdb.PostgresURL(b))
	if primaryPID == 0 || cpuOfCluster(primaryPID) == 0 {
		b.Skip("the primary's processes cannot be read from /proc")
	}
	mix := []string{"Customers?$top=25&$orderby=Name&$count=true", "Customers(%d)", "Orders?$filter=CustomerId eq %d&$top=10&$orderby=OrderDate desc",
		"Customers?$search=%d&$top=25", "Customers?$filter=startswith(Name,'A')&$select=Name,City&$count=true", "Orders(1025%d)"}
	for _, c := range []struct {
		name     string
		replicas []string
	}{{"primary only", nil}, {"with a standby", []string{standby.URL(db.Name)}}} {
		b.Run(c.name, func(b *testing.B) {
			g := startGateway(b, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: db.DSN, Replicas: c.replicas})})
			if c.replicas != nil {
				standbyServing(b, g.Gateway)
			}
			root := g.root("erp")
			client := &http.Client{Timeout: 30 * time.Second}
			var next, failed atomic.Int64
			run := func() {
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					var req *http.Request
					if i%20 == 0 {
						req, _ = http.NewRequest("PATCH", fmt.Sprintf("%sCustomers(%d)", root, 1+i%8), strings.NewReader(`{"City":"Edit `+strconv.FormatInt(i, 10)+`"}`))
						req.Header.Set("Content-Type", "application/json")
					} else {
						path := mix[int(i)%len(mix)]
						if strings.Contains(path, "%d") {
							path = fmt.Sprintf(path, 1+i%8)
						}
						req, _ = http.NewRequest("GET", root+encodeQuery(path), nil)
					}
					res, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode >= 300 {
						if failed.Add(1) == 1 {
							b.Logf("%s %s: %d %s", req.Method, req.URL, res.StatusCode, body)
						}
					}
				}
			}
			primaryBefore, standbyBefore := cpuOfCluster(primaryPID), cpuOfCluster(standby.PID())
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() { defer wg.Done(); run() }()
			}
			wg.Wait()
			b.StopTimer()
			took := time.Since(start)
			if failed.Load() > 0 {
				b.Fatalf("%d requests failed", failed.Load())
			}
			primary, onStandby := cpuOfCluster(primaryPID)-primaryBefore, cpuOfCluster(standby.PID())-standbyBefore
			b.ReportMetric(float64(primary.Microseconds())/float64(b.N), "primary-cpu-µs/req")
			b.ReportMetric(float64(onStandby.Microseconds())/float64(b.N), "standby-cpu-µs/req")
			b.ReportMetric(float64(b.N)/took.Seconds(), "req/s")
		})
	}
}

// parentOf is a process's parent, read from /proc (0 when unknown).
func parentOf(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// cpuOfCluster is the CPU time a PostgreSQL server has spent: its
// postmaster's, its children's that ended, and its running children's.
func cpuOfCluster(postmaster int) time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	stat := func(pid int) (ppid int, own, children int64) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, 0, 0
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		// after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), counted from state = 0
		ppid, _ = strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		cu, _ := strconv.ParseInt(f[13], 10, 64)
		cs, _ := strconv.ParseInt(f[14], 10, 64)
		return ppid, u + s, cu + cs
	}
	_, own, ended := stat(postmaster)
	total := own + ended
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, own, _ := stat(pid); ppid == postmaster {
			total += own
		}
	}
	return time.Duration(total) * tick
}
