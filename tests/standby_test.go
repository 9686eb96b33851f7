package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/sources"
)

// The standby suites make a streaming standby of the test server for
// each test (testdb.NewStandby) and point a source's replicas at it.

// standbyReport is where the gateway's erp source reads now.
func standbyReport(t testing.TB, g *app.Gateway) sources.StandbyReport {
	t.Helper()
	src, ok := g.Server.Source("erp")
	if !ok {
		t.Fatal("no erp source")
	}
	sb, ok := sources.As[sources.Standbyed](src)
	if !ok {
		t.Fatal("the erp source reads from no standby")
	}
	return sb.Standbys()
}

// standbyServing waits until the gateway's standby is in rotation.
func standbyServing(t testing.TB, g *app.Gateway) {
	t.Helper()
	eventually(t, 15*time.Second, "the standby in rotation", func() bool {
		rep := standbyReport(t, g)
		return len(rep.Standbys) == 1 && rep.Standbys[0].State == sources.StandbyServing
	})
}

// commits is a database's committed transactions as the server at url
// counts them: on a standby, the reads it served.
func commits(t testing.TB, url, database string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = $1`, database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// primaryReads adds up the reads that went to the primary, by any reason.
func primaryReads(rep sources.StandbyReport) int64 {
	var n int64
	for _, v := range rep.PrimaryReads {
		n += v
	}
	return n
}

// TestStandbyServesReads: with a standby, list views, record pages,
// counts and searches run on it, as the standby's own statistics show;
// a write runs on the primary and the writer's next read sees it; the
// metrics and the request shapes say where reads ran.
func TestStandbyServesReads(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	monthly := config.Summary{From: "Orders", Dimensions: []config.Dimension{{Column: "OrderDate", Bucket: "month", As: "month"}},
		Measures: config.Measures{{Name: "orders", Of: "count"}, {Name: "total", Of: "sum(Total)"}}}
	ag := startAdminGateway(t, "", "", map[string]config.Source{"erp": {DSN: db.DSN, Replicas: []string{standby.URL(db.Name)},
		Summaries: map[string]config.Summary{"orders_by_month": monthly}, Auth: config.Auth{Anonymous: true}}},
		func(s *app.Settings) { s.MetricsListen = "127.0.0.1:0" })
	standbyServing(t, ag.gw)
	erp := &target{root: ag.odata + "/odata/erp/"}

	reads := []string{"Customers?$top=25&$orderby=Name", "Customers(5)", "Customers?$count=true&$top=10", "Customers/$count",
		"Customers?$search=Lisbon", "Customers?$filter=startswith(Name,'A')&$select=Name,City", "Orders?$filter=CustomerId eq 2&$count=true",
		"orders_by_month?$orderby=total desc&$count=true"}
	const rounds = 60
	primaryBefore, standbyBefore := commits(t, testdb.PostgresURL(t), db.Name), commits(t, standby.URL("postgres"), db.Name)
	for i := 0; i < rounds; i++ {
		for _, path := range reads {
			if r := erp.get(t, path); r.Status != 200 {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	}
	n := int64(rounds * len(reads))
	var onStandby int64
	eventually(t, 30*time.Second, "the standby's statistics counting the reads", func() bool {
		onStandby = commits(t, standby.URL("postgres"), db.Name) - standbyBefore
		return onStandby >= n
	})
	onPrimary := commits(t, testdb.PostgresURL(t), db.Name) - primaryBefore
	if onPrimary > n/10 {
		t.Errorf("%d transactions on the primary during %d reads (the standby counted %d)", onPrimary, n, onStandby)
	}
	rep := standbyReport(t, ag.gw)
	if rep.Standbys[0].Reads < n || primaryReads(rep) != 0 {
		t.Errorf("the gateway's own count: %+v", rep)
	}
	t.Logf("%d reads: %d transactions on the standby, %d on the primary (its position probes)", n, onStandby, onPrimary)

	// a write goes to the primary, and the writer's next read sees it
	admin := testPool(t, db.DSN)
	for i := 0; i < 100; i++ {
		want := fmt.Sprintf("Edit %d", i)
		if r := erp.send(t, "PATCH", "Customers(7)", `{"City":"`+want+`"}`); r.Status != 204 {
			t.Fatalf("write: %d %s", r.Status, r.Body)
		}
		if got := erp.get(t, "Customers(7)?$select=City").JSON(t)["City"]; got != want {
			t.Fatalf("the read after write %d answered %v", i, got)
		}
	}
	var city string
	admin.QueryRow(context.Background(), `SELECT "City" FROM "Customers" WHERE "CustomerId" = 7`).Scan(&city)
	if city != "Edit 99" {
		t.Errorf("the primary holds %q", city)
	}

	metrics := string(do(t, "GET", "http://"+ag.gw.MetricsAddr()+"/metrics", nil).Body)
	addr := strings.TrimPrefix(standby.URL(db.Name), "postgres://postgres@")
	for _, want := range []string{
		`odatagw_standby_reads_total{source="erp",standby="` + addr + `"}`,
		`odatagw_standby_state{source="erp",standby="` + addr + `",state="serving"} 1`,
		`odatagw_primary_reads_total{reason="behind",source="erp"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	var shapes struct {
		Shapes []struct {
			Shape struct{ Set, Method string } `json:"shape"`
			Day   struct {
				Standby int64 `json:"standby_reads"`
				Primary int64 `json:"primary_reads"`
			} `json:"last_24h"`
		} `json:"shapes"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/shapes", nil).Body, &shapes)
	var standbyShapes, writes int
	for _, s := range shapes.Shapes {
		if s.Shape.Method == "GET" && s.Day.Standby > 0 {
			standbyShapes++
		}
		if s.Shape.Method == "PATCH" && s.Day.Standby == 0 {
			writes++
		}
	}
	if standbyShapes < len(reads) || writes != 1 {
		t.Errorf("the shapes say %d read shapes ran on the standby and %d writes not: %+v", standbyShapes, writes, shapes)
	}
}

// TestStandbyReadYourWritesUnderLoad: writers edit their own records
// through one replica of the gateway and read them at once through the
// other and through the same one, while others read list views; for part
// of the run the standby replays a second late. No read answers a record
// as it was before its writer's last write.
func TestStandbyReadYourWritesUnderLoad(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	prefix := testdb.RedisPrefix(t, redisURL)
	var gws [2]*gateway
	for i := range gws {
		gws[i] = startListening(t, app.Settings{Defaults: config.File{Redis: redisURL, RedisPrefix: prefix},
			Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{standby.URL(db.Name)}})})
		standbyServing(t, gws[i].Gateway)
	}
	const writers, minReads = 8, 10_000
	var reads, stale, failed, phase atomic.Int64
	deadline := time.Now().Add(3 * time.Minute)
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(url string) (int, []byte) {
		res, err := client.Get(url)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	patch := func(url, body string) int {
		req, _ := http.NewRequest("PATCH", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	var wg sync.WaitGroup
	var firstStale atomic.Value
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := w + 1
			for i := 0; reads.Load() < minReads && time.Now().Before(deadline); i++ {
				via, other := gws[i%2], gws[(i+1)%2]
				want := fmt.Sprintf("W%d-%d", id, i)
				if st := patch(fmt.Sprintf("%sCustomers(%d)", via.root("erp"), id), `{"City":"`+want+`"}`); st != 204 {
					failed.Add(1)
					continue
				}
				for _, g := range []*gateway{other, via} {
					st, body := get(fmt.Sprintf("%sCustomers(%d)?$select=City", g.root("erp"), id))
					reads.Add(1)
					var got struct{ City string }
					if st != 200 || json.Unmarshal(body, &got) != nil {
						failed.Add(1)
						continue
					}
					if got.City != want {
						stale.Add(1)
						firstStale.CompareAndSwap(nil, fmt.Sprintf("wrote %s, read %s (phase %d)", want, got.City, phase.Load()))
					}
				}
			}
		}()
	}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; reads.Load() < minReads && time.Now().Before(deadline); i++ {
				if st, _ := get(gws[(r+i)%2].root("erp") + "Customers?$top=25&$orderby=City&$count=true"); st != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	// part of the run with the standby replaying a second late
	eventually(t, time.Minute, "a third of the reads", func() bool { return reads.Load() >= minReads/3 })
	standby.Configure("recovery_min_apply_delay = '1s'")
	phase.Store(1)
	delayed := reads.Load()
	eventually(t, time.Minute, "reads while the standby is late", func() bool { return reads.Load() >= delayed+minReads/4 })
	standby.Configure("recovery_min_apply_delay = 0")
	phase.Store(2)
	wg.Wait()
	rep := [2]sources.StandbyReport{standbyReport(t, gws[0].Gateway), standbyReport(t, gws[1].Gateway)}
	t.Logf("%d reads after writes, %d stale, %d failed; replica A: %d on the standby, primary %v; replica B: %d on the standby, primary %v",
		reads.Load(), stale.Load(), failed.Load(), rep[0].Standbys[0].Reads, rep[0].PrimaryReads, rep[1].Standbys[0].Reads, rep[1].PrimaryReads)
	if reads.Load() < minReads {
		t.Fatalf("only %d reads within the time allowed", reads.Load())
	}
	if stale.Load() > 0 || failed.Load() > 0 {
		t.Fatalf("%d stale reads (first: %v), %d failed requests", stale.Load(), firstStale.Load(), failed.Load())
	}
	for i, r := range rep {
		if r.Standbys[0].Reads < minReads/10 {
			t.Errorf("replica %d read %d times from the standby: the test proves little", i, r.Standbys[0].Reads)
		}
	}
}

// readLoad is readers GETting URLs under root until stopped, bounded in
// count: it counts the reads, the failed ones (with the first failure)
// and the slowest.
type readLoad struct {
	reads, failed, slowest atomic.Int64
	firstFailure           atomic.Value
	stop                   chan struct{}
	wg                     sync.WaitGroup
}

func startReadLoad(readers int, url func(reader, i int) string) *readLoad {
	l := &readLoad{stop: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < readers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 200_000; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				res, err := client.Get(url(w, i))
				l.reads.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					l.fail(fmt.Sprintf("%d %s", res.StatusCode, b))
				}
				if d := int64(time.Since(start)); d > l.slowest.Load() {
					l.slowest.Store(d)
				}
			}
		}()
	}
	return l
}

func (l *readLoad) fail(why string) {
	l.failed.Add(1)
	l.firstFailure.CompareAndSwap(nil, why)
}

// end stops the readers and waits for them.
func (l *readLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestStandbyStoppedMidLoad: the standby stops while reads run; no read
// fails, they go to the primary, and the standby takes reads again once
// it is back.
func TestStandbyStoppedMidLoad(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{standby.URL(db.Name)}})})
	standbyServing(t, g.Gateway)
	paths := []string{"Customers?$top=25&$orderby=Name", "Customers(3)", "Customers/$count", "Orders?$filter=CustomerId eq 2&$count=true"}
	load := startReadLoad(6, func(w, i int) string { return g.root("erp") + encodeQuery(paths[(w+i)%len(paths)]) })
	time.Sleep(2 * time.Second)
	before := load.reads.Load()
	standby.Stop()
	time.Sleep(3 * time.Second)
	during := load.reads.Load() - before
	down := standbyReport(t, g.Gateway)
	standby.Start()
	eventually(t, 45*time.Second, "the standby back in rotation", func() bool {
		return standbyReport(t, g.Gateway).Standbys[0].State == sources.StandbyServing
	})
	back := standbyReport(t, g.Gateway).Standbys[0].Reads
	eventually(t, 10*time.Second, "reads on the standby again", func() bool { return standbyReport(t, g.Gateway).Standbys[0].Reads > back+50 })
	load.end()
	t.Logf("%d reads, %d in the 3 s the standby was down (state then %s, to the primary: %v)", load.reads.Load(), during, down.Standbys[0].State, down.PrimaryReads)
	if load.failed.Load() > 0 {
		t.Fatalf("%d of %d reads failed; first: %v", load.failed.Load(), load.reads.Load(), load.firstFailure.Load())
	}
	if down.Standbys[0].State != sources.StandbyDown || during < 50 {
		t.Errorf("while stopped: %+v, %d reads", down, during)
	}
}

// TestStandbyLagLeavesRotation: a standby further behind than
// max_replica_lag serves nothing until it catches up; reads meanwhile go
// to the primary and see every write.
func TestStandbyLagLeavesRotation(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	g := startGateway(t, app.Settings{Defaults: uncached(), MetricsListen: "127.0.0.1:0",
		Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{standby.URL(db.Name)}, MaxReplicaLag: config.Duration(time.Second)})})
	standbyServing(t, g.Gateway)
	erp := g.target("postgres", "erp", nil)
	standby.Configure("recovery_min_apply_delay = '4s'")
	for i := 0; ; i++ {
		want := fmt.Sprintf("Late %d", i)
		if r := erp.send(t, "PATCH", "Customers(9)", `{"City":"`+want+`"}`); r.Status != 204 {
			t.Fatalf("write: %d %s", r.Status, r.Body)
		}
		if got := erp.get(t, "Customers(9)?$select=City").JSON(t)["City"]; got != want {
			t.Fatalf("read after write %d: %v", i, got)
		}
		if standbyReport(t, g.Gateway).Standbys[0].State == sources.StandbyLagging {
			break
		}
		if i > 100 {
			t.Fatalf("the standby, 4 s late, never left rotation: %+v", standbyReport(t, g.Gateway))
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := primaryReads(standbyReport(t, g.Gateway))
	for i := 0; i < 20; i++ {
		if r := erp.get(t, "Customers?$top=5"); r.Status != 200 {
			t.Fatalf("read while lagging: %d %s", r.Status, r.Body)
		}
	}
	rep := standbyReport(t, g.Gateway)
	if got := rep.PrimaryReads[sources.PrimaryNoStandby]; primaryReads(rep)-before < 20 || got < 20 || !rep.AllGone {
		t.Errorf("while lagging: %+v", rep)
	}
	metrics := string(do(t, "GET", "http://"+g.MetricsAddr()+"/metrics", nil).Body)
	if !strings.Contains(metrics, `state="lagging"} 1`) {
		t.Errorf("the metrics do not say the standby lags")
	}
	standby.Configure("recovery_min_apply_delay = 0")
	standbyServing(t, g.Gateway)
}

// TestStandbyThroughTheAdminAPIAndCheck: an admin gives a source its
// standbys through the API (one with a password of its own is refused),
// sees where reads go, and odatagw check reports the standby, or a copy
// that is no standby of the database.
func TestStandbyThroughTheAdminAPIAndCheck(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	ag := startAdminGateway(t, t.TempDir()+"/state.db", "operator key", nil)
	// the source's password (trust ignores it) goes to the standby too,
	// and shows nowhere
	password := "pw-" + randomHex(8)
	recordSecret(t, password)
	primary := strings.Replace(db.DSN, "postgres@", "postgres:"+password+"@", 1)
	withPassword := strings.Replace(standby.URL(db.Name), "postgres@", "postgres:elsewhere@", 1)
	r := ag.api(t, "POST", "/api/sources", map[string]any{"auth": anon, "name": "erp", "dsn": db.DSN, "replicas": []string{withPassword}})
	var refusal struct {
		Error struct{ Target, Message string } `json:"error"`
	}
	json.Unmarshal(r.Body, &refusal)
	if r.Status != 422 || refusal.Error.Target != "replicas" || !strings.Contains(refusal.Error.Message, "leave the password out") || strings.Contains(string(r.Body), "elsewhere") {
		t.Fatalf("a standby with its own password: %d %s", r.Status, r.Body)
	}
	if r := ag.api(t, "POST", "/api/sources", map[string]any{"auth": anon, "name": "erp", "dsn": primary, "replicas": []string{standby.URL(db.Name)}}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var st struct {
		Replicas []string               `json:"replicas"`
		MaxLag   string                 `json:"max_replica_lag"`
		Standbys *sources.StandbyReport `json:"standbys"`
	}
	eventually(t, 15*time.Second, "the standby serving, as the API says", func() bool {
		json.Unmarshal(ag.api(t, "GET", "/api/sources/erp", nil).Body, &st)
		return st.Standbys != nil && len(st.Standbys.Standbys) == 1 && st.Standbys.Standbys[0].State == sources.StandbyServing
	})
	if r := do(t, "GET", ag.odata+"/odata/erp/Customers(2)", nil); r.Status != 200 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	status := ag.api(t, "GET", "/api/sources/erp", nil).Body
	json.Unmarshal(status, &st)
	if strings.Contains(string(status), password) {
		t.Errorf("the status shows the password: %s", status)
	}
	if st.Standbys.Standbys[0].Reads != 1 || len(st.Replicas) != 1 {
		t.Errorf("after one read: %+v %+v", st, *st.Standbys)
	}

	// the fixture has errors of its own (tables without keys): the
	// standby adds none, and a copy that serves another database one
	out, errOut, _ := runCLI(t, "check", db.DSN, "--replica", standby.URL(db.Name))
	if !strings.Contains(out, "standbys, which take the reads:\n  info: standby 127.0.0.1:") || !strings.Contains(out, "serves the same schema") || !strings.Contains(out, ", 3 errors,") {
		t.Errorf("check with the standby:\n%s%s", out, errOut)
	}
	out, errOut, code := runCLI(t, "check", db.DSN, "--replica", standby.URL("postgres"))
	if code != 1 || !strings.Contains(out, `serves another schema than the primary: table public.Customers is missing`) || !strings.Contains(out, ", 4 errors,") {
		t.Errorf("check with another database of the standby: exit %d\n%s%s", code, out, errOut)
	}
}

// TestStandbyPerUserRowLevelSecurity: reads that run as each caller's
// database role run so on the standby too, where the same roles and
// policies replay: each user counts and sees the rows of their region
// only, and reads their own edit at once.
func TestStandbyPerUserRowLevelSecurity(t *testing.T) {
	needPostgres(t)
	db, eu, us, _ := regionalDB(t)
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	ag := startAdminGateway(t, t.TempDir()+"/state.db", "k",
		map[string]config.Source{"erp": {DSN: db.DSN, Replicas: []string{standby.URL(db.Name)}, Auth: config.Auth{Basic: true, PerUser: true}}})
	standbyServing(t, ag.gw)
	as := usersWithRoles(t, ag, map[string]string{"anna": eu, "ulysses": us})
	root := ag.odata + "/odata/erp/"
	var euCount, usCount string
	var deID int
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'Germany'`, &euCount)
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" IN ('USA', 'US')`, &usCount)
	execQuery(t, db.DSN, `SELECT min("CustomerId") FROM "Customers" WHERE "Country" = 'Germany'`, &deID)
	before := standbyReport(t, ag.gw).Standbys[0].Reads
	for user, want := range map[string]string{"anna": euCount, "ulysses": usCount} {
		if r := do(t, "GET", root+"Customers/$count", nil, as(user)...); r.Status != 200 || strings.TrimSpace(string(r.Body)) != want {
			t.Errorf("%s counts %s (%d), want %s", user, r.Body, r.Status, want)
		}
		body := string(do(t, "GET", root+"Customers?$select=Country&$top=50", nil, as(user)...).Body)
		if user == "anna" && (strings.Contains(body, `"USA"`) || !strings.Contains(body, `"Germany"`)) || user == "ulysses" && strings.Contains(body, `"Germany"`) {
			t.Errorf("%s sees other regions: %.300s", user, body)
		}
	}
	if got := standbyReport(t, ag.gw).Standbys[0].Reads - before; got != 4 {
		t.Errorf("%d of the 4 reads ran on the standby", got)
	}
	for i := 0; i < 20; i++ {
		want := fmt.Sprintf("Berlin %d", i)
		if r := do(t, "PATCH", root+fmt.Sprintf("Customers(%d)", deID), []byte(`{"City":"`+want+`"}`), as("anna")...); r.Status != 204 {
			t.Fatalf("anna's edit: %d %s", r.Status, r.Body)
		}
		if got := string(do(t, "GET", root+fmt.Sprintf("Customers(%d)?$select=City", deID), nil, as("anna")...).Body); !strings.Contains(got, want) {
			t.Fatalf("anna's read after her edit %d: %s", i, got)
		}
	}
}

// TestStandbyPromotionSurvived: the primary's DSN names both servers
// with target_session_attrs=read-write, as libpq allows; the primary is
// lost and its standby promoted. Without a restart the gateway writes to
// the new primary, reads every write back, and takes the promoted standby
// out of the standbys' rotation.
func TestStandbyPromotionSurvived(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	primary := testdb.Copy(t, testdb.PostgresURL(t)) // a primary the test may lose
	standby := testdb.NewStandby(t, primary.URL("postgres"))
	both := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?target_session_attrs=read-write", primary.Port, standby.Port, db.Name)
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: both, Replicas: []string{standby.URL(db.Name)}})})
	standbyServing(t, g.Gateway)
	erp := g.target("postgres", "erp", nil)
	edit := func(want string) int {
		r := erp.send(t, "PATCH", "Customers(4)", `{"City":"`+want+`"}`)
		return r.Status
	}
	if st := edit("Before"); st != 204 {
		t.Fatalf("write before the promotion: %d", st)
	}
	if got := erp.get(t, "Customers(4)?$select=City").JSON(t)["City"]; got != "Before" {
		t.Fatalf("read before the promotion: %v", got)
	}
	primary.Stop()
	standby.Promote()
	start := time.Now()
	var failures int
	eventually(t, 30*time.Second, "a write to the new primary", func() bool {
		if edit("After") == 204 {
			return true
		}
		failures++
		return false
	})
	t.Logf("writes failed %d times for %v after the primary was lost", failures, time.Since(start).Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		want := fmt.Sprintf("After %d", i)
		if st := edit(want); st != 204 {
			t.Fatalf("write %d after the promotion: %d", i, st)
		}
		if got := erp.get(t, "Customers(4)?$select=City").JSON(t)["City"]; got != want {
			t.Fatalf("read after write %d: %v", i, got)
		}
	}
	eventually(t, 10*time.Second, "the promoted standby out of rotation", func() bool {
		return standbyReport(t, g.Gateway).Standbys[0].State == sources.StandbyPromoted
	})
}

// TestStandbyDeltaLinksReadThePrimary: changes made behind the gateway
// reach a standby late (here 3 s); a read that starts a delta link and the
// delta's rows must hold every change the change log counted, so they run
// on the primary: Salesforce's Change Data Capture loses nothing.
func TestStandbyDeltaLinksReadThePrimary(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--apply"); code != 0 {
		t.Fatalf("track: %s", errOut)
	}
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	g := startGateway(t, app.Settings{Defaults: uncached(), SkipTokenSecret: "delta-test-secret",
		Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{standby.URL(db.Name)}})})
	standbyServing(t, g.Gateway)
	standby.Configure("recovery_min_apply_delay = '3s'")
	time.Sleep(time.Second) // the reload reaches the standby's replay
	root := g.root("erp")
	execSQL(t, db.DSN, `UPDATE "Customers" SET "City" = 'Behind the gateway' WHERE "CustomerId" = 11`)
	first := do(t, "GET", root+encodeQuery("Customers?$select=CustomerId,City&$filter=CustomerId eq 11"), nil, "Prefer", "odata.track-changes", "OData-MaxVersion", "4.01")
	if first.Status != 200 || !strings.Contains(string(first.Body), "Behind the gateway") {
		t.Fatalf("the read that starts the delta link does not hold the change the log counted: %d %s", first.Status, first.Body)
	}
	link, _ := first.JSON(t)["@odata.deltaLink"].(string)
	execSQL(t, db.DSN, `UPDATE "Customers" SET "City" = 'Again' WHERE "CustomerId" = 11`)
	delta := do(t, "GET", link, nil, "OData-MaxVersion", "4.01")
	if delta.Status != 200 || !strings.Contains(string(delta.Body), `"City":"Again"`) {
		t.Fatalf("the delta: %d %s", delta.Status, delta.Body)
	}
	// a plain read comes from the late standby (nothing was written
	// through the gateway): the reads above did not
	if got := string(do(t, "GET", root+"Customers(11)?$select=City", nil).Body); strings.Contains(got, "Again") || strings.Contains(got, "Behind the gateway") {
		t.Errorf("the standby was not behind, so this test proves nothing: %s", got)
	}
}

// TestStandbysShareTheReads: with two standbys the reads go to each in
// turn; with one stopped, the other takes them all and the primary none.
func TestStandbysShareTheReads(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	one, two := testdb.NewStandby(t, testdb.PostgresURL(t)), testdb.NewStandby(t, testdb.PostgresURL(t))
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{one.URL(db.Name), two.URL(db.Name)}})})
	eventually(t, 15*time.Second, "both standbys in rotation", func() bool {
		rep := standbyReport(t, g.Gateway)
		return rep.Standbys[0].State == sources.StandbyServing && rep.Standbys[1].State == sources.StandbyServing
	})
	time.Sleep(time.Second) // each standby's position read again since the gateway started
	erp := g.target("postgres", "erp", nil)
	reads := func(n int) {
		for i := 0; i < n; i++ {
			if r := erp.get(t, fmt.Sprintf("Customers(%d)", 1+i%50)); r.Status != 200 {
				t.Fatalf("read: %d %s", r.Status, r.Body)
			}
		}
	}
	reads(200)
	rep := standbyReport(t, g.Gateway)
	a, b := rep.Standbys[0].Reads, rep.Standbys[1].Reads
	if a+b != 200 || a < 80 || b < 80 || primaryReads(rep) != 0 {
		t.Fatalf("200 reads spread as %d and %d, %d on the primary", a, b, primaryReads(rep))
	}
	two.Stop()
	reads(200)
	rep = standbyReport(t, g.Gateway)
	t.Logf("with both: %d and %d; with the second stopped: %d more on the first, %d failed on the second and ran on the primary",
		a, b, rep.Standbys[0].Reads-a, rep.PrimaryReads[sources.PrimaryFailed])
	if rep.Standbys[0].Reads-a+rep.PrimaryReads[sources.PrimaryFailed] != 200 || rep.PrimaryReads[sources.PrimaryFailed] > 1 ||
		rep.Standbys[1].State != sources.StandbyDown {
		t.Errorf("with the second standby stopped: %+v", rep)
	}
}

// stallProxy forwards TCP to a target until stalled; stalled, it holds
// every byte and every new connection without a word, as a network
// partition does (no reset, no refusal).
type stallProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	closed  atomic.Bool
}

func startStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		p.closed.Store(true)
		ln.Close()
		p.cut()
	})
	return p
}

// cut closes every connection the proxy holds.
func (p *stallProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *stallProxy) keep(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.keep(c)
		if p.stalled.Load() {
			continue // accepted, never answered
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.keep(d)
		go p.pipe(d, c)
		go p.pipe(c, d)
	}
}

// pipe copies src to dst, holding what it read while the proxy is
// stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.stalled.Load() && !p.closed.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// TestStandbyUnreachableMidLoad: the network to the standby goes silent
// (no reset: a partition) while reads run. Within about a second it is
// out of rotation; the reads that were waiting on it run again on the
// primary; none fails, and none waits much longer than that second.
func TestStandbyUnreachableMidLoad(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	standby := testdb.NewStandby(t, testdb.PostgresURL(t))
	px := startStallProxy(t, fmt.Sprintf("127.0.0.1:%d", standby.Port))
	through := fmt.Sprintf("postgres://postgres@%s/%s", px.ln.Addr(), db.Name)
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: db.DSN, Replicas: []string{through}})})
	standbyServing(t, g.Gateway)
	load := startReadLoad(4, func(w, i int) string { return fmt.Sprintf("%sCustomers(%d)", g.root("erp"), 1+(w+i)%50) })
	time.Sleep(time.Second)
	px.stalled.Store(true)
	cut := time.Now()
	eventually(t, 5*time.Second, "the silent standby out of rotation", func() bool {
		return standbyReport(t, g.Gateway).Standbys[0].State == sources.StandbyDown
	})
	outAfter := time.Since(cut)
	time.Sleep(2 * time.Second)
	load.end()
	rep := standbyReport(t, g.Gateway)
	slowest := time.Duration(load.slowest.Load())
	t.Logf("out of rotation %v after the network went silent; %d reads, the slowest %v; to the primary: %v",
		outAfter.Round(time.Millisecond), load.reads.Load(), slowest.Round(time.Millisecond), rep.PrimaryReads)
	if load.failed.Load() > 0 {
		t.Fatalf("%d of %d reads failed; first: %v", load.failed.Load(), load.reads.Load(), load.firstFailure.Load())
	}
	if outAfter > 2*time.Second || slowest > 3*time.Second {
		t.Errorf("out of rotation after %v, the slowest read %v", outAfter, slowest)
	}
	// the network back: what was held is cut (the cancel requests the
	// gateway sent meanwhile would otherwise keep its pools' closing
	// waiting out pgx's 15 s)
	px.stalled.Store(false)
	px.cut()
}
