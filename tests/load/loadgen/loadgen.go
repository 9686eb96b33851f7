// Package loadgen sends one request over and over from concurrent clients
// and measures throughput and latency, or follows nextLinks through a whole
// entity set. It only sends to loopback addresses, and every run is bounded
// in count and time. The load command and the benchmark use it.
package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of every run.
const (
	MaxDuration = 2 * time.Minute
	MaxRequests = 5_000_000
	MaxPages    = 100_000
)

// CheckLoopback refuses any target that is not this machine.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the URL must be an absolute http URL")
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address; only this machine is loaded", ip)
		}
	}
	return nil
}

var randPattern = regexp.MustCompile(`\{rand:(\d+)-(\d+)\}`)

// Expand replaces each {rand:A-B} by a random integer in [A,B].
func Expand(u string, r *rand.Rand) string {
	if r == nil {
		return u
	}
	return randPattern.ReplaceAllStringFunc(u, func(m string) string {
		p := randPattern.FindStringSubmatch(m)
		lo, _ := strconv.Atoi(p[1])
		hi, _ := strconv.Atoi(p[2])
		return strconv.Itoa(lo + r.IntN(hi-lo+1))
	})
}

// Request is what each repetition sends. In URL and Body, {rand:A-B}
// becomes a random integer; in Body, {seq} a number unique to the run.
type Request struct {
	// Header is Name: value, several separated by newlines.
	Method, URL, Header, Body string
	// Seed picks the sequence of random numbers; runs with the same seed
	// send the same requests.
	Seed uint64
}

var seq atomic.Int64

func (rq Request) build(r *rand.Rand) *http.Request {
	var body io.Reader
	if rq.Body != "" {
		b := strings.ReplaceAll(rq.Body, "{seq}", strconv.FormatInt(1_000_000+seq.Add(1), 10))
		body = strings.NewReader(Expand(b, r))
	}
	method := rq.Method
	if method == "" {
		method = http.MethodGet
	}
	req, _ := http.NewRequest(method, Expand(rq.URL, r), body)
	if rq.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, line := range strings.Split(rq.Header, "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	return req
}

// Result is what a run measured.
type Result struct {
	Request            Request
	Clients            int
	Elapsed            time.Duration
	Requests, Failed   int
	Bytes              int64
	P50, P90, P99, Max time.Duration
	latencies          []time.Duration // sorted, for Merge
}

// PerSecond is the throughput in requests per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Print writes the result as the load command shows it.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "request      %s %s\n", r.Request.Method, r.Request.URL)
	fmt.Fprintf(w, "clients      %d for %v\n", r.Clients, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests     %d (%d failed)\n", r.Requests, r.Failed)
	fmt.Fprintf(w, "throughput   %.0f req/s, %.1f MB/s\n", r.PerSecond(), float64(r.Bytes)/r.Elapsed.Seconds()/1e6)
	fmt.Fprintf(w, "latency      p50 %v  p90 %v  p99 %v  max %v\n", r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	if r.Requests > 0 {
		fmt.Fprintf(w, "bytes/resp   %d\n", r.Bytes/int64(r.Requests))
	}
}

// Repeat sends rq from conc clients until dur has passed or limit
// requests were sent (both bounded by MaxDuration and MaxRequests).
func Repeat(client *http.Client, rq Request, conc int, dur time.Duration, limit int) Result {
	dur, limit = min(dur, MaxDuration), min(limit, MaxRequests)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    int
		bytes     int64
		sent      int
	)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7+rq.Seed))
			for time.Now().Before(deadline) {
				mu.Lock()
				if sent >= limit {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				t0 := time.Now()
				res, err := client.Do(rq.build(r))
				var nb int64
				ok := err == nil
				if err == nil {
					nb, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					ok = res.StatusCode >= 200 && res.StatusCode < 300
				}
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				bytes += nb
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		}(uint64(w))
	}
	wg.Wait()
	return summarize(Result{Request: rq, Clients: conc, Elapsed: time.Since(start), Failed: failed, Bytes: bytes}, latencies)
}

// summarize fills in a result's count and percentiles from its latencies.
func summarize(r Result, latencies []time.Duration) Result {
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	r.Requests, r.latencies = len(latencies), latencies
	r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), pct(1)
	return r
}

// Merge adds up runs of the same request, as if they were one run as long
// as all of them together: the benchmark interleaves short runs against
// each target, so that whatever drifts while it runs (the database's
// caches, a checkpoint, autovacuum) falls on every target alike.
func Merge(runs ...Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	m := Result{Request: runs[0].Request, Clients: runs[0].Clients}
	var all []time.Duration
	for _, r := range runs {
		m.Elapsed += r.Elapsed
		m.Failed += r.Failed
		m.Bytes += r.Bytes
		all = append(all, r.latencies...)
	}
	return summarize(m, all)
}

// RSS reads the resident and peak resident memory of a process, in MiB.
func RSS(pid int) (cur, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

// Follow reads @odata.nextLink from next to the end, once (bounded by
// MaxPages and MaxDuration), printing the pages and, with pid, the
// gateway's memory.
func Follow(client *http.Client, next, header string, pid int, w io.Writer) error {
	start := time.Now()
	pages, rows := 0, 0
	var bytes int64
	for next != "" && pages < MaxPages && time.Since(start) < MaxDuration {
		res, err := client.Do(Request{URL: next, Header: header}.build(nil))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("page %d: status %d: %.300s", pages, res.StatusCode, body)
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		pages++
		rows += len(page.Value)
		bytes += int64(len(body))
		next = page.NextLink
		if pid > 0 && (pages == 1 || pages%25 == 0 || next == "") {
			cur, peak := RSS(pid)
			fmt.Fprintf(w, "page %6d  rows %8d  gateway RSS %6.1f MiB  peak %6.1f MiB\n", pages, rows, cur, peak)
		}
	}
	el := time.Since(start)
	fmt.Fprintf(w, "followed %d pages, %d rows, %.1f MB in %v (%.0f rows/s)\n", pages, rows, float64(bytes)/1e6, el.Round(time.Millisecond), float64(rows)/el.Seconds())
	return nil
}
