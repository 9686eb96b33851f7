package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/testdb"
)

// memoryLimit is the Helm chart's limit.
const memoryLimit = 512 << 20

// memoryCgroup makes a memory cgroup (v1) limited to limit below this
// process's own, removed when the test ends, and returns its directory;
// "" where none can be made (a machine without the controller or root).
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	own := ""
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
				own = parts[2]
			}
		}
	}
	dir := filepath.Join("/sys/fs/cgroup/memory", own, fmt.Sprintf("odatagw-test-%d", rand.Int64()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return ""
	}
	t.Cleanup(func() {
		// the gateway has been stopped by then (cleanups run last-in first)
		for range 50 {
			if os.Remove(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("the test's cgroup %s could not be removed", dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		t.Fatalf("limiting the cgroup: %v", err)
	}
	return dir
}

// bigTable creates a table of n rows of about 200 bytes each.
func bigTable(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE TABLE events (id integer PRIMARY KEY, account text NOT NULL, subject text, body text, amount numeric(12,2), happened_at timestamptz);
		INSERT INTO events SELECT i, 'ACC-' || (i % 5000), 'Subject of event ' || i, repeat(md5(i::text), 3), i * 1.25, timestamptz '2024-01-01' + i * interval '1 minute'
		FROM generate_series(1, `+strconv.Itoa(n)+`) i;
		ANALYZE events;`)
	if err != nil {
		t.Fatal(err)
	}
}

// procStatus reads a field of /proc/PID/status in bytes (VmHWM, VmRSS).
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cgroupValue(dir, file string) string {
	b, _ := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b))
}

// limited is a gateway binary running as the chart runs it.
type limited struct {
	root, metrics string // the service root; the metrics listener's address
	pid           int
	group         string // its memory cgroup, "" when it got --memory-limit
}

// limitedGateway runs the binary serving dsn as source erp inside a
// memory cgroup of the chart's limit (or with --memory-limit where no
// cgroup can be made), the cache's bound left to follow it, no GOMEMLIMIT,
// and checks that it learnt the limit.
func limitedGateway(t *testing.T, dsn string) limited {
	t.Helper()
	bin := buildBinary(t)
	gw := limited{group: memoryCgroup(t, memoryLimit), metrics: freePort(t)}
	env := []string{"GOMEMLIMIT="}
	args := []string{"serve", "--listen", freePort(t), "--source", "erp=" + dsn, "--metrics-listen", gw.metrics}
	if gw.group != "" {
		// the shell joins the cgroup, then becomes the gateway
		script := `echo $$ > "$ODATAGW_CGROUP/cgroup.procs" && exec "$0" "$@"`
		gw.root, gw.pid = runGateway(t, "/bin/sh", append(env, "ODATAGW_CGROUP="+gw.group), append([]string{"-c", script, bin}, args...)...)
	} else {
		t.Log("no memory cgroup can be made here: the limit is given with --memory-limit instead")
		gw.root, gw.pid = runGateway(t, bin, env, append(args, "--memory-limit", strconv.Itoa(memoryLimit))...)
	}
	logged := strings.Join(readLog(t), "\n")
	wantFrom := "(cgroup)"
	if gw.group == "" {
		wantFrom = "(--memory-limit)"
	}
	if !strings.Contains(logged, "memory limit 512 MiB") || !strings.Contains(logged, wantFrom) {
		t.Fatalf("the gateway did not learn its limit %s:\n%s", wantFrom, logged)
	}
	return gw
}

// checkSurvived fails the test if the gateway is gone, the kernel killed a
// process of its cgroup, or its peak resident memory reached the limit.
func (gw limited) checkSurvived(t *testing.T, sent int64) {
	t.Helper()
	alive := syscall.Kill(gw.pid, 0) == nil
	hwm := procStatus(gw.pid, "VmHWM")
	t.Logf("peak resident %d MiB (limit %d MiB)", hwm>>20, memoryLimit>>20)
	if gw.group != "" {
		t.Logf("cgroup: peak usage %s bytes, limit hits %s, %s", cgroupValue(gw.group, "memory.max_usage_in_bytes"),
			cgroupValue(gw.group, "memory.failcnt"), strings.ReplaceAll(cgroupValue(gw.group, "memory.oom_control"), "\n", ", "))
		if strings.Contains(cgroupValue(gw.group, "memory.oom_control"), "oom_kill 1") {
			t.Error("the kernel's OOM killer ended a process of the gateway's cgroup")
		}
	}
	if !alive {
		t.Fatalf("the gateway is gone after %d requests (killed for memory?)", sent)
	}
	if hwm >= memoryLimit {
		t.Errorf("peak resident memory %d bytes reached the limit of %d", hwm, memoryLimit)
	}
}

// TestSurvivesUnderTheChartsMemoryLimit runs the binary as the Helm chart
// does (512 MiB, the cache's bound left to follow the limit, no
// GOMEMLIMIT) inside a memory cgroup, under what a batch Apex job sends:
// 16 clients reading distinct 1,000-row pages of a 250,000-row table, and
// then the same with list views, searches and writes between them. It must not be killed,
// refuse no request, and stay under the limit.
// ODATAGW_MEMORY_SECONDS sets how long (default 45).
func TestSurvivesUnderTheChartsMemoryLimit(t *testing.T) {
	needPostgres(t)
	seconds := 45
	if s, err := strconv.Atoi(os.Getenv("ODATAGW_MEMORY_SECONDS")); err == nil && s > 0 {
		seconds = min(s, 1800)
	}
	db := testdb.NewPostgres(t)
	const rows = 250_000
	bigTable(t, db.DSN, rows)

	gw := limitedGateway(t, db.DSN)
	root, pid, metrics := gw.root, gw.pid, gw.metrics

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	// the first half pages only, as a batch job does; then the mix
	mixFrom := time.Now().Add(time.Duration(seconds) * time.Second / 2)
	var l load
	wg := l.drive(ctx, cancel, 7, func(rng *rand.Rand) *http.Request {
		n := 0
		if time.Now().After(mixFrom) {
			n = rng.IntN(100)
		}
		var req *http.Request
		switch {
		case n < 80: // a batch job's next page
			req, _ = http.NewRequestWithContext(ctx, "GET", root+"events?$filter="+urlEscape(fmt.Sprintf("id gt %d", rng.IntN(rows))), nil)
		case n < 88: // a list view with its count
			req, _ = http.NewRequestWithContext(ctx, "GET", root+"events?$select=id,account,subject&$count=true&$top=26&$filter="+urlEscape(fmt.Sprintf("account eq 'ACC-%d'", rng.IntN(5000))), nil)
		case n < 96: // a search
			req, _ = http.NewRequestWithContext(ctx, "GET", root+"events?$select=id,subject&$top=25&$search="+strconv.Itoa(rng.IntN(rows)), nil)
		default: // an edit
			req, _ = http.NewRequestWithContext(ctx, "PATCH", root+fmt.Sprintf("events(%d)", 1+rng.IntN(rows)), strings.NewReader(fmt.Sprintf(`{"subject":"edited %d"}`, rng.Int())))
			req.Header.Set("Content-Type", "application/json")
		}
		return req
	})
	// at the end of the paging half: what the cache counts, and what the
	// process holds
	var counted, resident int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(mixFrom)):
			counted, resident = metricValue(t, "http://"+metrics+"/metrics", "odatagw_cache_store_bytes"), procStatus(pid, "VmRSS")
		}
	}()
	wg.Wait()
	if counted > 0 {
		t.Logf("after paging: the cache counts %d MiB, the process holds %d MiB (%.2f per counted MiB)", counted>>20, resident>>20, float64(resident)/float64(counted))
	}
	t.Logf("%d requests in %d s by 16 clients", l.sent.Load(), seconds)
	gw.checkSurvived(t, l.sent.Load())
	l.check(t)
	if l.sent.Load() < 100 {
		t.Errorf("only %d requests: the test proved nothing", l.sent.Load())
	}
}

// metricValue reads one unlabelled series from a /metrics page.
func metricValue(t *testing.T, url, name string) int64 {
	res, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	t.Errorf("%s is not on %s", name, url)
	return 0
}

// readLog is what the test's gateways have logged so far.
func readLog(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join(outputDir(), "logs", unsafeName.ReplaceAllString(t.Name(), "_")+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

func urlEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, " ", "%20"), "'", "%27")
}

// TestSoakKeepsOnlyLiveAnswers runs Salesforce's mix of six distinct reads
// with one edit in 50 against the chart-limited binary: every edit moves
// the set's generation on, and the entries filed under the old one must go
// at once, so what the cache counts stays within the six live answers
// however many were cached and written over. It logs resident memory
// through the soak. ODATAGW_SOAK_SECONDS sets how long (default 20).
func TestSoakKeepsOnlyLiveAnswers(t *testing.T) {
	needPostgres(t)
	seconds := 20
	if s, err := strconv.Atoi(os.Getenv("ODATAGW_SOAK_SECONDS")); err == nil && s > 0 {
		seconds = min(s, 1800)
	}
	db := testdb.NewPostgres(t)
	bigTable(t, db.DSN, 20_000)
	gw := limitedGateway(t, db.DSN)
	reads := []string{
		"events?$select=id,account,subject&$count=true&$top=26&$orderby=id%20desc", // list view
		"events(4242)", // record page
		"events?$select=id,subject&$top=5&$filter=" + urlEscape("account eq 'ACC-7'"), // related list
		"events?$select=id,subject&$top=25&$search=4242",                              // search
		"events?$filter=" + urlEscape("id gt 5000"),                                   // a batch job's page
		"events/$count",
	}
	// what the six live answers weigh: the most the cache may count
	live := 0
	for _, r := range reads {
		res, err := http.Get(gw.root + r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s %s", r, res.Status, b)
		}
		live += len(b)
	}
	bound := int64(2*live + 64<<10) // room for each entry's key and bookkeeping

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var l load
	var edits atomic.Int64
	wg := l.drive(ctx, cancel, 11, func(rng *rand.Rand) *http.Request {
		if rng.IntN(50) == 0 {
			req, _ := http.NewRequestWithContext(ctx, "PATCH", gw.root+fmt.Sprintf("events(%d)", 1+rng.IntN(1000)), strings.NewReader(fmt.Sprintf(`{"subject":"edited %d"}`, rng.Int())))
			req.Header.Set("Content-Type", "application/json")
			edits.Add(1)
			return req
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", gw.root+reads[rng.IntN(len(reads))], nil)
		return req
	})
	// once a second: what the cache counts and what the process holds
	var most int64
	var resident []int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
sampling:
	for {
		select {
		case <-ctx.Done():
			break sampling
		case <-tick.C:
			most = max(most, metricValue(t, "http://"+gw.metrics+"/metrics", "odatagw_cache_store_bytes"))
			resident = append(resident, procStatus(gw.pid, "VmRSS"))
		}
	}
	wg.Wait()
	slices.Sort(resident)
	if len(resident) > 0 {
		t.Logf("%d requests (%d edits) in %d s by 16 clients, %.0f/s; the cache counted at most %d KiB (six live answers: %d KiB); resident memory min %d MiB, median %d MiB, max %d MiB",
			l.sent.Load(), edits.Load(), seconds, float64(l.sent.Load())/float64(seconds), most>>10, live>>10,
			resident[0]>>20, resident[len(resident)/2]>>20, resident[len(resident)-1]>>20)
	}
	gw.checkSurvived(t, l.sent.Load())
	l.check(t)
	if most > bound {
		t.Errorf("the cache counted %d bytes, more than the six live answers can (%d): entries of old generations were kept", most, bound)
	}
	if edits.Load() < 10 {
		t.Errorf("only %d edits: the test proved nothing", edits.Load())
	}
}

// load is what a run of 16 clients sent and how it went.
type load struct {
	sent, refused, failed atomic.Int64
	first                 atomic.Value // the first failure or refusal
}

// drive starts 16 clients that send what next makes until ctx ends (or,
// after 100 failures, cancel: the gateway is gone); wait on the group it
// returns. Each client has its own random numbers, from seed.
func (l *load) drive(ctx context.Context, cancel func(), seed uint64, next func(rng *rand.Rand) *http.Request) *sync.WaitGroup {
	client := &http.Client{Timeout: 2 * time.Minute}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), seed))
			for ctx.Err() == nil {
				req := next(rng)
				res, err := client.Do(req)
				if ctx.Err() != nil {
					return
				}
				l.sent.Add(1)
				if err != nil {
					if l.failed.Add(1) > 100 {
						cancel()
					}
					l.first.CompareAndSwap(nil, fmt.Sprintf("after %d requests: %v", l.sent.Load(), err))
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 400 {
					l.refused.Add(1)
					l.first.CompareAndSwap(nil, req.Method+" "+req.URL.String()+": "+res.Status)
				}
			}
		}()
	}
	return &wg
}

// check fails the test if any request failed or was refused.
func (l *load) check(t *testing.T) {
	t.Helper()
	if l.failed.Load() > 0 || l.refused.Load() > 0 {
		t.Errorf("%d requests failed and %d were refused; the first: %v", l.failed.Load(), l.refused.Load(), l.first.Load())
	}
}
