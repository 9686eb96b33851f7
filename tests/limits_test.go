package tests

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// limitedDemo starts a demo gateway with small limits, so each can be
// passed with a short request.
func limitedDemo(t *testing.T, lim config.Limits) *target {
	t.Helper()
	defaults := uncached()
	defaults.Limits = lim
	return startGateway(t, app.Settings{Defaults: defaults}).target("sqlite", "demo", nil)
}

func TestEveryLimitAnswersClearly(t *testing.T) {
	tg := limitedDemo(t, config.Limits{MaxURLLength: 300, MaxFilterDepth: 4, MaxFilterNodes: 12, MaxSelectItems: 3,
		MaxOrderByItems: 2, MaxInItems: 3, MaxSearchTerms: 3, MaxTop: 100})
	cases := []struct {
		url    string
		status int
		target string
	}{
		{"Customers?$filter=Name eq '" + strings.Repeat("x", 300) + "'", 414, ""},
		{"Customers?$filter=((((((CustomerId eq 1))))))", 400, "$filter"},
		{"Customers?$filter=CustomerId eq 1 or CustomerId eq 2 or CustomerId eq 3 or CustomerId eq 4 or CustomerId eq 5", 400, "$filter"},
		{"Customers?$select=CustomerId,Name,City,Country", 400, "$select"},
		{"Customers?$orderby=City,Country,Name", 400, "$orderby"},
		{"Customers?$filter=CustomerId in (1,2,3,4)", 400, "$filter"},
		{"Customers?$search=a b c d", 400, "$search"},
		{"Customers?$top=101", 400, "$top"},
	}
	for _, c := range cases {
		r := tg.get(t, c.url)
		if r.Status != c.status {
			t.Errorf("%.60s: status %d, want %d: %s", c.url, r.Status, c.status, r.Body)
			continue
		}
		e := r.JSON(t)["error"].(map[string]any)
		if e["code"] != "LimitExceeded" || (c.target != "" && e["target"] != c.target) {
			t.Errorf("%.60s: %v", c.url, e)
		}
	}
	// just inside each limit is fine
	for _, ok := range []string{"Customers?$select=CustomerId,Name,City&$orderby=City,Name&$top=100",
		"Customers?$filter=CustomerId in (1,2,3)&$search=a b c"} {
		if r := tg.get(t, ok); r.Status != 200 {
			t.Errorf("%s: %d %s", ok, r.Status, r.Body)
		}
	}
}

// TestRateLimitIsPerClient: one client flooding gets 429 with Retry-After;
// another client's requests still succeed.
func TestRateLimitIsPerClient(t *testing.T) {
	tg := limitedDemo(t, config.Limits{RateLimit: 5})
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	}
	flooder, other := from("127.0.0.2"), from("127.0.0.3")
	limited := 0
	for i := 0; i < 40; i++ { // bounded flood
		res, err := flooder.Get(tg.root + "Customers/$count")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 429 {
			limited++
			if res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited == 0 {
		t.Fatal("40 requests at once were never limited at 5 per second")
	}
	for i := 0; i < 3; i++ {
		res, err := other.Get(tg.root + "Customers/$count")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("the other client got %d while the first flooded", res.StatusCode)
		}
	}
	t.Logf("%d of 40 flooding requests limited", limited)
}

// TestQueueTimeout: with every connection busy, a request waits at most
// the queue timeout, then answers 503 with Retry-After.
func TestQueueTimeout(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
	defaults := uncached()
	defaults.Limits.QueueTimeout = 300 * time.Millisecond
	g := startGateway(t, app.Settings{Defaults: defaults, Sources: erpSource(config.Source{DSN: db.DSN, MaxConnections: 2,
		Keys: map[string][]string{"slow_rows": {"id"}}})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 2; i++ {
		go func(i int) {
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%sslow_rows?$filter=id%%20gt%%20%d", g.root("erp"), i), nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}(i)
	}
	pool := testPool(t, db.DSN)
	eventually(t, 5*time.Second, "both slow queries hold the two slots", func() bool { return activeQueries(t, pool, "slow_rows") == 2 })
	r := do(t, "GET", g.root("erp")+"Customers(1)", nil)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || errorCode(t, r) != "Busy" {
		t.Fatalf("a request past the queue timeout: %d %v %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
}

// TestBatchPartsChargeTheirCaller: the parts of a $batch count against the
// rate limit of the client that sent it. Another client's batch right
// after a large one is untouched, and a part's own client address header
// cannot move it to another bucket.
func TestBatchPartsChargeTheirCaller(t *testing.T) {
	tg := limitedDemo(t, config.Limits{RateLimit: 5, ClientIPHeader: "X-Forwarded-For", TrustedProxies: []string{"127.0.0.1/32"}})
	// partFrom, when set, gives each part a client address header of its own
	batch := func(from string, parts int, partFrom bool) map[int]int {
		var reqs []string
		for i := 0; i < parts; i++ {
			headers := ""
			if partFrom {
				headers = fmt.Sprintf(`,"headers":{"X-Forwarded-For":"198.51.100.%d"}`, i+1)
			}
			reqs = append(reqs, fmt.Sprintf(`{"id":"r%d","method":"GET","url":"Customers/$count"%s}`, i, headers))
		}
		res := do(t, http.MethodPost, tg.root+"$batch", []byte(`{"requests":[`+strings.Join(reqs, ",")+`]}`),
			"Content-Type", "application/json", "X-Forwarded-For", from)
		if res.Status != 200 {
			t.Fatalf("$batch from %s: %d %s", from, res.Status, res.Body)
		}
		statuses := map[int]int{}
		for _, r := range res.JSON(t)["responses"].([]any) {
			var s int
			fmt.Sscan(fmt.Sprint(r.(map[string]any)["status"]), &s)
			statuses[s]++
		}
		return statuses
	}
	big := batch("192.0.2.1", 60, false)
	if big[429] == 0 {
		t.Fatalf("60 parts at 5 requests per second were never limited: %v", big)
	}
	if other := batch("192.0.2.2", 5, false); other[200] != 5 {
		t.Fatalf("a second client's 5 parts right after the first client's 60: %v, want 5 answered", other)
	}
	// a fresh client's burst is 10: the envelope and 12 parts pass it
	// unless each part could choose its own bucket
	if dodged := batch("192.0.2.3", 12, true); dodged[429] < 2 {
		t.Fatalf("parts naming other client addresses escaped their caller's limit: %v", dodged)
	}
	t.Logf("the 60-part batch: %v", big)
}

// TestOneConnectionServesPagesWithTheirCount: a source allowed a single
// database connection answers a list view with its count (the count runs
// first, then the page) instead of holding the connection with the page's
// rows while the count waits for it until the statement timeout.
func TestOneConnectionServesPagesWithTheirCount(t *testing.T) {
	needPostgres(t)
	db := newFixtureDB(t)
	defaults := uncached()
	defaults.Limits.QueueTimeout = 2 * time.Second
	g := startGateway(t, app.Settings{Defaults: defaults, Sources: erpSource(config.Source{DSN: db.DSN, MaxConnections: 1,
		StatementTimeout: config.Duration(3 * time.Second)})})
	var want string
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'USA'`, &want)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // at once: each takes its turn at the one connection
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := do(t, "GET", g.root("erp")+"Customers?$select=Name&$filter=Country%20eq%20'USA'&$count=true&$top=3", nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"@odata.count":`+want+`,`) {
				t.Errorf("a page with its count on one connection: %d %.300s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
}

// TestCallerCannotBeForged: who the caller is decides the rate limit and
// the credential throttles, and a caller cannot choose it by writing a
// forwarding header: from a peer that is not a trusted proxy the header is
// ignored, and behind a trusted proxy only the address the proxy appended
// counts, not what the client put before it. The admin listener decides
// the same way (gin's own would trust any peer's header).
func TestCallerCannotBeForged(t *testing.T) {
	limitedFor := func(tg *target, forwarded func(i int) string) (limited int) {
		for i := range 8 {
			if r := do(t, http.MethodGet, tg.root+"Customers/$count", nil, "X-Forwarded-For", forwarded(i)); r.Status == 429 {
				limited++
			}
		}
		return limited
	}
	direct := limitedDemo(t, config.Limits{RateLimit: 1})
	if n := limitedFor(direct, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }); n == 0 {
		t.Error("a direct caller escaped the rate limit by naming other addresses in X-Forwarded-For")
	}
	proxied := limitedDemo(t, config.Limits{RateLimit: 1, TrustedProxies: []string{"127.0.0.1/32"}})
	if n := limitedFor(proxied, func(i int) string { return fmt.Sprintf("6.6.6.%d, 198.51.100.7", i) }); n == 0 {
		t.Error("behind a trusted proxy, a caller escaped the rate limit by writing addresses before the proxy's")
	}
	if n := limitedFor(proxied, func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }); n != 0 {
		t.Errorf("behind a trusted proxy, %d of 8 distinct callers were limited as one", n)
	}

	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	for i := range 2 {
		do(t, http.MethodGet, ag.admin+"/api/sources", nil, "Authorization", "Bearer wrong", "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	logged := ag.logs.String()
	if !strings.Contains(logged, `msg="admin authentication failed" client=127.0.0.1`) || strings.Contains(logged, "198.51.100.") {
		t.Errorf("the admin listener took the caller from X-Forwarded-For:\n%s", logged)
	}
}
