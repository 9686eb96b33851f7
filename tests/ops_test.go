package tests

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestMetricsOnTheOperationsListener: the figures are served on the
// metrics listener (and the admin listener), not on the port Salesforce
// reaches, whose probes name nothing; every series has bounded labels.
func TestMetricsOnTheOperationsListener(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	src := config.Source{DSN: db.DSN, Auth: config.Auth{Basic: true}}
	g := startGateway(t, app.Settings{MetricsListen: "127.0.0.1:0", State: filepath.Join(t.TempDir(), "state.db"),
		Sources: map[string]config.Source{"erp": src}})
	tg := g.target("postgres", "erp", nil)
	// traffic: reads (a miss then a hit), a refused credential, an unknown set, a URL with a key
	for _, u := range []string{"Customers?$top=5&$count=true", "Customers?$top=5&$count=true", "Customers(42)", "NoSuchSet", "Orders?$filter=CustomerId eq 7"} {
		do(t, "GET", tg.root+encodeQuery(u), nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("nobody:wrong")))
	}
	public := strings.TrimSuffix(tg.root, "/odata/erp/")
	if r := do(t, "GET", public+"/metrics", nil); r.Status != 404 {
		t.Errorf("/metrics on the public port: %d", r.Status)
	}
	if r := do(t, "GET", public+"/readyz", nil); r.Status != 200 || strings.Contains(string(r.Body), "erp") {
		t.Errorf("/readyz on the public port names sources: %d %s", r.Status, r.Body)
	}
	ops := "http://" + g.MetricsAddr()
	if r := do(t, "GET", ops+"/readyz", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"erp":"ok"`) {
		t.Errorf("/readyz on the metrics listener: %d %s", r.Status, r.Body)
	}
	body := string(do(t, "GET", ops+"/metrics", nil).Body)
	for _, want := range []string{
		`odatagw_auth_failures_total{source="erp"} 5`,
		`odatagw_pool_connections{source="erp",state="max"}`,
		`odatagw_cache_bytes{source="erp"}`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// bounded labels: no URL, key or user in any series
	for _, bad := range []string{"Customers(42)", "NoSuchSet", "nobody", "$top", "CustomerId eq"} {
		if strings.Contains(body, bad) {
			t.Errorf("/metrics holds %q", bad)
		}
	}

	monitored := body
	// a client past the rate limit
	limited := startGateway(t, app.Settings{MetricsListen: "127.0.0.1:0", Defaults: config.File{Limits: config.Limits{RateLimit: 1}}})
	for range 5 {
		limited.demoTarget().get(t, "Customers(1)")
	}
	scrape := string(do(t, "GET", "http://"+limited.MetricsAddr()+"/metrics", nil).Body)
	if !strings.Contains(scrape, `odatagw_limit_refusals_total{limit="rate"}`) {
		t.Error("/metrics lacks the rate limit's refusals")
	}
	monitored += scrape

	// now as a caller with credentials, through the cache
	open := startGateway(t, app.Settings{MetricsListen: "127.0.0.1:0", Sources: erpSource(config.Source{DSN: db.DSN})})
	otg := open.target("postgres", "erp", nil)
	for _, u := range []string{"Customers?$top=5&$count=true", "Customers?$top=5&$count=true", "Customers(42)", "NoSuchSet"} {
		otg.get(t, u)
	}
	body = string(do(t, "GET", "http://"+open.MetricsAddr()+"/metrics", nil).Body)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`odatagw_requests_total\{method="GET",set="Customers",source="erp",status="2xx"\} 3`),
		regexp.MustCompile(`odatagw_requests_total\{method="GET",set="",source="erp",status="4xx"\} 1`),
		regexp.MustCompile(`odatagw_request_duration_seconds_bucket\{method="GET",set="Customers",source="erp",le="0.001"\}`),
		regexp.MustCompile(`odatagw_database_duration_seconds_count\{kind="query",set="Customers",source="erp"\} 2`),
		// the repeated list view is one answer from the cache, its count in it
		regexp.MustCompile(`odatagw_cache_requests_total\{result="hit",set="Customers",source="erp"\} 1`),
		regexp.MustCompile(`odatagw_rows_returned_total\{set="Customers",source="erp"\} 11`),
	} {
		if !want.MatchString(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// a source behind an agent that is not connected: the agents' series;
	// and one whose standby does not answer: the standbys'
	far := startGateway(t, app.Settings{MetricsListen: "127.0.0.1:0", State: filepath.Join(t.TempDir(), "state.db"),
		Sources: map[string]config.Source{"far": {DSN: db.DSN, Via: "plant-x", Auth: config.Auth{Anonymous: true}},
			"read": {DSN: db.DSN, Replicas: []string{"postgres://127.0.0.1:1/nowhere"}, Auth: config.Auth{Anonymous: true}}}})
	farBody := string(do(t, "GET", "http://"+far.MetricsAddr()+"/metrics", nil).Body)
	if !strings.Contains(farBody, `odatagw_agent_tunnels{agent="plant-x"} 0`) {
		t.Error("/metrics does not say that the agent plant-x has no tunnel")
	}
	if !strings.Contains(farBody, `odatagw_standby_state{source="read",standby="127.0.0.1:1/nowhere",state="down"} 1`) {
		t.Error("/metrics does not say that the standby of read is down")
	}
	// the dashboard and the alert rules under deploy/ read only series a
	// gateway serves
	served := monitored + body + farBody
	for _, f := range []string{"alerts.yaml", "grafana-dashboard.json"} {
		text, err := os.ReadFile(filepath.Join(testdb.Root(), "deploy", "monitoring", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`odatagw_[a-z_]+`).FindAllString(string(text), -1) {
			if !strings.Contains(served, "\n"+name+"{") && !strings.Contains(served, "\n"+name+" ") {
				t.Errorf("deploy/monitoring/%s reads %s, which no gateway serves", f, name)
			}
		}
	}
}

// TestStopUnderLoadLosesNothing: a gateway asked to stop while clients
// keep sending reports not ready first, still serving, then finishes every
// request it accepted; a client only ever sees a refused connection once
// the listener is closed, never a failed or cut answer.
func TestStopUnderLoadLosesNothing(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	g, err := serveGateway(app.Settings{Defaults: uncached(), DrainDelay: 500 * time.Millisecond, DrainTimeout: 20 * time.Second,
		Sources: erpSource(config.Source{DSN: db.DSN})})
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	tg := g.target("postgres", "erp", nil)
	url := tg.root + encodeQuery("Orders?$select=OrderId,Total&$filter=Total gt 10&$count=true&$top=200")
	var ok, refused, failed atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	stopLoad := make(chan struct{})
	client := &http.Client{Timeout: 30 * time.Second}
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				res, err := client.Get(url)
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
					time.Sleep(10 * time.Millisecond)
				case err != nil:
					failed.Add(1)
					failures.Store(err.Error(), true)
				default:
					n, rerr := readAll(res)
					if res.StatusCode != 200 || rerr != nil || n == 0 {
						failed.Add(1)
						failures.Store(res.Status, true)
					} else {
						ok.Add(1)
					}
				}
			}
		}()
	}
	// under load: some requests answered
	eventually(t, 10*time.Second, "the first answers under load", func() bool { return ok.Load() >= 50 })
	before := ok.Load()
	stopped := make(chan struct{})
	go func() { g.stop(); close(stopped) }()
	// during the drain delay: not ready, still serving
	var ready response
	for deadline := time.Now().Add(400 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ready = do(t, "GET", strings.TrimSuffix(tg.root, "/odata/erp/")+"/readyz", nil); ready.Status == 503 {
			break
		}
	}
	if ready.Status != 503 {
		t.Errorf("readyz while draining: %d %s", ready.Status, ready.Body)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	// the clients find the port closed
	eventually(t, 10*time.Second, "a refused connection after the stop", func() bool { return refused.Load() > 0 })
	close(stopLoad)
	wg.Wait()
	failures.Range(func(k, _ any) bool { t.Errorf("failure: %v", k); return true })
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed while the gateway stopped (%d answered)", failed.Load(), ok.Load())
	}
	if ok.Load() <= before || refused.Load() == 0 {
		t.Fatalf("the test proved nothing: %d answered before the stop, %d in all, %d refused after", before, ok.Load(), refused.Load())
	}
	t.Logf("%d answered (%d during the stop), %d connections refused once closed, none failed", ok.Load(), ok.Load()-before, refused.Load())
}

func readAll(res *http.Response) (int, error) {
	defer res.Body.Close()
	buf := make([]byte, 32<<10)
	n := 0
	for {
		m, err := res.Body.Read(buf)
		n += m
		if err != nil {
			if err.Error() == "EOF" {
				return n, nil
			}
			return n, err
		}
	}
}
