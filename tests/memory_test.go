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

	bin := buildBinary(t)
	group := memoryCgroup(t, memoryLimit)
	env := []string{"GOMEMLIMIT="}
	metrics := freePort(t)
	args := []string{"serve", "--listen", freePort(t), "--source", "erp=" + db.DSN, "--metrics-listen", metrics}
	var root string
	var pid int
	if group != "" {
		// the shell joins the cgroup, then becomes the gateway
		script := `echo $$ > "$ODATAGW_CGROUP/cgroup.procs" && exec "$0" "$@"`
		root, pid = runGateway(t, "/bin/sh", append(env, "ODATAGW_CGROUP="+group), append([]string{"-c", script, bin}, args...)...)
	} else {
		t.Log("no memory cgroup can be made here: the limit is given with --memory-limit instead")
		root, pid = runGateway(t, bin, env, append(args, "--memory-limit", strconv.Itoa(memoryLimit))...)
	}
	logged := strings.Join(readLog(t), "\n")
	wantFrom := "(cgroup)"
	if group == "" {
		wantFrom = "(--memory-limit)"
	}
	if !strings.Contains(logged, "memory limit 512 MiB") || !strings.Contains(logged, wantFrom) {
		t.Fatalf("the gateway did not learn its limit %s:\n%s", wantFrom, logged)
	}

	var sent, refused, failed atomic.Int64
	var firstFailure atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Minute}
	// the first half pages only, as a batch job does; then the mix
	mixFrom := time.Now().Add(time.Duration(seconds) * time.Second / 2)
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for ctx.Err() == nil {
				var req *http.Request
				n := 0
				if time.Now().After(mixFrom) {
					n = rng.IntN(100)
				}
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
				res, err := client.Do(req)
				if ctx.Err() != nil {
					return
				}
				sent.Add(1)
				if err != nil {
					if failed.Add(1) > 100 {
						cancel() // the gateway is gone: no point in asking on
					}
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("after %d requests: %v", sent.Load(), err))
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 400 {
					refused.Add(1)
					firstFailure.CompareAndSwap(nil, req.Method+" "+req.URL.String()+": "+res.Status)
				}
			}
		}()
	}
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
	alive := syscall.Kill(pid, 0) == nil
	hwm := procStatus(pid, "VmHWM")
	t.Logf("%d requests in %d s by 16 clients; peak resident %d MiB (limit %d MiB)", sent.Load(), seconds, hwm>>20, memoryLimit>>20)
	if group != "" {
		t.Logf("cgroup: peak usage %s bytes, limit hits %s, %s", cgroupValue(group, "memory.max_usage_in_bytes"),
			cgroupValue(group, "memory.failcnt"), strings.ReplaceAll(cgroupValue(group, "memory.oom_control"), "\n", ", "))
		if strings.Contains(cgroupValue(group, "memory.oom_control"), "oom_kill 1") {
			t.Error("the kernel's OOM killer ended a process of the gateway's cgroup")
		}
	}
	if !alive {
		t.Fatalf("the gateway is gone after %d requests (killed for memory?)", sent.Load())
	}
	if failed.Load() > 0 || refused.Load() > 0 {
		t.Errorf("%d requests failed and %d were refused; the first: %v", failed.Load(), refused.Load(), firstFailure.Load())
	}
	if hwm >= memoryLimit {
		t.Errorf("peak resident memory %d bytes reached the limit of %d", hwm, memoryLimit)
	}
	if sent.Load() < 100 {
		t.Errorf("only %d requests: the test proved nothing", sent.Load())
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
