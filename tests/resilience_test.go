package tests

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// proxy is a loopback TCP proxy that can cut every connection, standing
// in for a database that goes away and comes back.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, up: true}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.setUp(false) })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, d)
		p.mu.Unlock()
		go func() { io.Copy(d, c); d.Close() }()
		go func() { io.Copy(c, d); c.Close() }()
	}
}

// setUp opens or cuts the proxy; cutting closes every open connection.
func (p *proxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestDatabaseOutage: while the database is unreachable the gateway answers
// 503; once it is back, the same gateway answers again, without a restart.
func TestDatabaseOutage(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	u, _ := url.Parse(db.DSN)
	px := startProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	tg, _ := ownGatewayDSN(t, config.Source{DSN: u.String()})

	if r := tg.get(t, "Customers?$top=1"); r.Status != 200 {
		t.Fatalf("before the outage: %d %s", r.Status, r.Body)
	}
	px.setUp(false)
	r := tg.get(t, "Customers?$top=1&$count=true")
	if r.Status != 503 || errorCode(t, r) != "SourceUnavailable" {
		t.Fatalf("during the outage: %d %s", r.Status, r.Body)
	}
	ready := do(t, http.MethodGet, strings.TrimSuffix(tg.root, "/odata/erp/")+"/readyz", nil)
	if ready.Status != 503 {
		t.Errorf("readyz during the outage: %d", ready.Status)
	}
	px.setUp(true)
	eventually(t, 10*time.Second, "the gateway recovers", func() bool {
		return tg.get(t, "Customers?$top=1&$count=true").Status == 200
	})
}

// TestStatementTimeout: a query past the statement timeout answers 504.
func TestStatementTimeout(t *testing.T) {
	needPostgres(t)
	tg, pool := ownGateway(t, config.Source{StatementTimeout: config.Duration(300 * time.Millisecond), Keys: map[string][]string{"slow_rows": {"id"}}})
	_ = pool
	start := time.Now()
	r := tg.get(t, "slow_rows")
	if r.Status != 504 || errorCode(t, r) != "QueryTimeout" {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; the timeout did not cut the query", d)
	}
}

// TestClientDisconnectCancelsQuery: when the caller goes away, its query
// stops running in the database.
func TestClientDisconnectCancelsQuery(t *testing.T) {
	needPostgres(t)
	tg, pool := ownGateway(t, config.Source{Keys: map[string][]string{"slow_rows": {"id"}}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.root+"slow_rows", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	running := func() int { return activeQueries(t, pool, "slow_rows") }
	eventually(t, 5*time.Second, "the slow query starts", func() bool { return running() > 0 })
	cancel()
	<-done
	eventually(t, 5*time.Second, "the query ends once the client left", func() bool { return running() == 0 })
}

// TestTimeoutNamesSetAndIndex: a read past the statement timeout says which
// set it read and which index would have served the filter.
func TestTimeoutNamesSetAndIndex(t *testing.T) {
	needPostgres(t)
	tg, _ := ownGateway(t, config.Source{StatementTimeout: config.Duration(5 * time.Millisecond)})
	r := tg.get(t, "events?$filter=contains(note,'no such note') and kind ne 'x'&$count=true")
	if r.Status != 504 || errorCode(t, r) != "QueryTimeout" {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if e["target"] != "events" || !strings.Contains(msg, "reading events") ||
		!strings.Contains(msg, `CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_`) || !strings.Contains(msg, "gin_trgm_ops") {
		t.Errorf("the timeout does not name the set and the index: %s", r.Body)
	}
}
