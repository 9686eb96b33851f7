// Command load measures a running gateway on this machine: requests per
// second and latency percentiles of one request repeated by concurrent
// clients, or the memory of the gateway while a client follows nextLinks
// through a whole entity set.
//
// It only sends to loopback addresses, and every run is bounded in count
// and time.
//
//	go run ./tools/load -url 'http://127.0.0.1:8080/odata/demo/Customers?$select=CustomerId,Name&$count=true&$top=26' -c 16 -d 10s
//	go run ./tools/load -url 'http://127.0.0.1:8080/odata/erp/events({rand:1-200000})' -c 16 -d 10s
//	go run ./tools/load -follow -pid 1234 -url 'http://127.0.0.1:8080/odata/erp/events?$select=id,kind'
//	go run ./tools/load -X POST -body '{"id":{seq},"kind":"x","amount":1,"at":"2024-01-01T00:00:00Z"}' -url 'http://127.0.0.1:8080/odata/erp/events'
//
// {rand:A-B} in the URL or body becomes a random integer in [A,B]; {seq}
// in the body a number unique to the run.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxDuration = 2 * time.Minute
	maxRequests = 5_000_000
	maxPages    = 100_000
)

func main() {
	target := flag.String("url", "", "request URL; {rand:A-B} is replaced by a random integer in [A,B] per request")
	conc := flag.Int("c", 8, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "how long to run (at most 2m)")
	n := flag.Int("n", 1_000_000, "stop after this many requests (at most 5,000,000)")
	follow := flag.Bool("follow", false, "follow @odata.nextLink from -url to the end, once, and report pages and memory")
	pid := flag.Int("pid", 0, "with -follow: the gateway's process id, to sample its resident memory")
	header := flag.String("H", "", "extra header, Name: value")
	method := flag.String("X", http.MethodGet, "request method")
	body := flag.String("body", "", "request body (JSON); {seq} and {rand:A-B} are replaced per request")
	flag.Parse()
	if err := checkLoopback(*target); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if *dur > maxDuration {
		*dur = maxDuration
	}
	if *n > maxRequests {
		*n = maxRequests
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 2 * time.Minute}
	if *follow {
		followLinks(client, *target, *header, *pid)
		return
	}
	repeat(client, request{method: *method, url: *target, header: *header, body: *body}, *conc, *dur, *n)
}

// checkLoopback refuses any target that is not this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url must be an absolute http URL")
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address; this tool only loads this machine", ip)
		}
	}
	return nil
}

var randPattern = regexp.MustCompile(`\{rand:(\d+)-(\d+)\}`)

func expand(u string, r *rand.Rand) string {
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

// request is what each repetition sends.
type request struct {
	method, url, header, body string
}

var seq atomic.Int64

func (rq request) build(r *rand.Rand) *http.Request {
	var body io.Reader
	if rq.body != "" {
		b := strings.ReplaceAll(rq.body, "{seq}", strconv.FormatInt(1_000_000+seq.Add(1), 10))
		body = strings.NewReader(expand(b, r))
	}
	req, _ := http.NewRequest(rq.method, expand(rq.url, r), body)
	if rq.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if name, value, ok := strings.Cut(rq.header, ":"); ok {
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req
}

func newRequest(u, header string) *http.Request {
	return request{method: http.MethodGet, url: u, header: header}.build(nil)
}

func repeat(client *http.Client, rq request, conc int, dur time.Duration, limit int) {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
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
			r := rand.New(rand.NewPCG(seed, 7))
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
					errors++
				}
				mu.Unlock()
			}
		}(uint64(w))
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	fmt.Printf("request      %s %s\n", rq.method, rq.url)
	fmt.Printf("clients      %d for %v\n", conc, elapsed.Round(time.Millisecond))
	fmt.Printf("requests     %d (%d failed)\n", len(latencies), errors)
	fmt.Printf("throughput   %.0f req/s, %.1f MB/s\n", float64(len(latencies))/elapsed.Seconds(), float64(bytes)/elapsed.Seconds()/1e6)
	fmt.Printf("latency      p50 %v  p90 %v  p99 %v  max %v\n", pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if len(latencies) > 0 {
		fmt.Printf("bytes/resp   %d\n", bytes/int64(len(latencies)))
	}
}

// rss reads resident and peak resident memory of a process, in MiB.
func rss(pid int) (cur, peak float64) {
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

func followLinks(client *http.Client, next, header string, pid int) {
	start := time.Now()
	pages, rows := 0, 0
	var bytes int64
	for next != "" && pages < maxPages && time.Since(start) < maxDuration {
		res, err := client.Do(newRequest(next, header))
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			fmt.Fprintf(os.Stderr, "load: page %d: status %d: %.300s\n", pages, res.StatusCode, body)
			os.Exit(1)
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		pages++
		rows += len(page.Value)
		bytes += int64(len(body))
		next = page.NextLink
		if pid > 0 && (pages == 1 || pages%25 == 0 || next == "") {
			cur, peak := rss(pid)
			fmt.Printf("page %6d  rows %8d  gateway RSS %6.1f MiB  peak %6.1f MiB\n", pages, rows, cur, peak)
		}
	}
	el := time.Since(start)
	fmt.Printf("followed %d pages, %d rows, %.1f MB in %v (%.0f rows/s)\n", pages, rows, float64(bytes)/1e6, el.Round(time.Millisecond), float64(rows)/el.Seconds())
}
