package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// adminGateway is a gateway serving OData and its admin API on loopback
// ports, with its logs kept for inspection.
type adminGateway struct {
	gw    *app.Gateway
	odata string // http://host:port
	admin string
	token string
	logs  *syncBuffer
	// answers keeps every admin API body this test received, to look for
	// secrets in
	answers *syncBuffer
	stop    func() // stops and closes the gateway; safe to call twice
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func startAdminGateway(t *testing.T, state, key string, srcs map[string]config.Source, mods ...func(*app.Settings)) *adminGateway {
	t.Helper()
	logs := &syncBuffer{}
	ag := &adminGateway{token: "admin-" + randomHex(12), logs: logs, answers: &syncBuffer{}}
	recordSecret(t, ag.token)
	set := app.Settings{
		Logger:   slog.New(slog.NewTextHandler(io.MultiWriter(logs, logFile(t)), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Defaults: uncached(), Sources: srcs, Listen: "127.0.0.1:0",
		State: state, SecretKey: key, StatePoll: 200 * time.Millisecond,
		AdminListen: "127.0.0.1:0", AdminToken: ag.token,
	}
	for _, m := range mods {
		m(&set)
	}
	g := startGateway(t, set)
	ag.odata, ag.admin, ag.gw, ag.stop = g.base, "http://"+g.AdminAddr(), g.Gateway, g.stop
	return ag
}

// api calls the admin API with the admin token; body is marshalled JSON.
func (ag *adminGateway) api(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		headers = append(headers, "Content-Type", "application/json")
	}
	r := do(t, method, ag.admin+path, raw, append([]string{"Authorization", "Bearer " + ag.token}, headers...)...)
	ag.answers.Write(r.Body)
	for k, v := range r.Header {
		fmt.Fprintln(ag.answers, k, v)
	}
	return r
}

// anon is the access policy of sources these tests read without credentials.
var anon = map[string]any{"anonymous": true}

func apiError(t *testing.T, r response) (code, field string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Field, Message string }
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Error.Code == "" {
		t.Fatalf("not an admin API error (%d): %s", r.Status, r.Body)
	}
	return body.Error.Code, body.Error.Field
}

func TestAdminSignIn(t *testing.T) {
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "key", nil)
	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"no credential", nil, 401},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401},
		{"token as basic", []string{"Authorization", "Basic " + ag.token}, 401},
		{"right token", []string{"Authorization", "Bearer " + ag.token}, 200},
	}
	for _, c := range cases {
		r := do(t, "GET", ag.admin+"/api/sources", nil, c.header...)
		if r.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.Status, c.status, r.Body)
		}
		if c.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, r.Header.Get("WWW-Authenticate"))
		}
	}
	// the demo is listed when nothing is registered
	r := ag.api(t, "GET", "/api/sources", nil)
	if !strings.Contains(string(r.Body), `"name":"demo"`) {
		t.Errorf("list: %s", r.Body)
	}
	// the page and its files come from the binary, with nothing fetched elsewhere
	// (every file the page names; SVG's namespace is a name, not a fetch)
	_, page := fetch(t, ag.admin+"/")
	files := []string{"/"}
	for _, m := range regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		files = append(files, m[1])
	}
	if len(files) < 5 {
		t.Errorf("the page names %v", files)
	}
	for _, path := range files {
		status, body := fetch(t, ag.admin+path)
		body = strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "")
		if status != 200 || strings.Contains(body, "https://") || strings.Contains(body, "http://") {
			t.Errorf("%s: %d, or it refers to another site", path, status)
		}
	}
	// guessing gets slower: the answers after the third failure are held
	// back (from 100 ms, doubling)
	start := time.Now()
	for i := 0; i < 6; i++ {
		do(t, "GET", ag.admin+"/api/sources", nil, "Authorization", "Bearer guess")
	}
	if held := time.Since(start); held < 700*time.Millisecond {
		t.Errorf("six failed sign-ins took %v; the 4th to 6th should be held 100+200+400 ms", held)
	}
}

// TestAdminSourceLifecycle adds, changes and removes a source through the
// API while clients keep reading it: no request fails, a bad change
// leaves the old source serving, a second admin's stale change is
// refused, and the password is never shown or logged.
func TestAdminSourceLifecycle(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
	password := "pw-" + randomHex(8) // trust auth ignores it; it must still never show
	recordSecret(t, password)
	dsn := strings.Replace(db.DSN, "postgres@", "postgres:"+password+"@", 1)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "operator key", nil)

	r := ag.api(t, "POST", "/api/sources", map[string]any{"auth": anon, "name": "erp", "dsn": dsn, "keys": map[string][]string{"slow_rows": {"id"}}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	etag := r.Header.Get("ETag")
	if created := r.JSON(t); created["password_set"] != true || created["dsn"] != db.DSN {
		t.Fatalf("create answered %s", r.Body)
	}
	// served at once
	if r := do(t, "GET", ag.odata+"/odata/erp/Customers?$top=1", nil); r.Status != 200 {
		t.Fatalf("served after create: %d %s", r.Status, r.Body)
	}

	// clients read throughout the changes
	var failures, reads atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := http.Get(ag.odata + "/odata/erp/Customers?$select=CustomerId,Name&$top=5")
				if err != nil || res.StatusCode != 200 {
					failures.Add(1)
					if err == nil {
						firstFailure.CompareAndSwap(nil, res.Status)
						res.Body.Close()
					}
					continue
				}
				res.Body.Close()
				reads.Add(1)
			}
		}()
	}
	for i, size := range []int{500, 300, 700, 200, 1000} {
		r := ag.api(t, "PUT", "/api/sources/erp", map[string]any{"auth": anon, "dsn": db.DSN, "page_size": size, "keys": map[string][]string{"slow_rows": {"id"}}}, "If-Match", etag)
		if r.Status != 200 {
			t.Fatalf("update %d: %d %s", i, r.Status, r.Body)
		}
		etag = r.Header.Get("ETag")
	}
	// a change that cannot connect is refused next to the DSN, and the old source keeps serving
	bad := ag.api(t, "PUT", "/api/sources/erp", map[string]any{"dsn": "postgres://postgres:" + password + "@127.0.0.1:1/nowhere"}, "If-Match", etag)
	if code, field := apiError(t, bad); bad.Status != 422 || code != "InvalidSource" || field != "dsn" {
		t.Fatalf("bad DSN: %d %s", bad.Status, bad.Body)
	}
	afterRefusal := reads.Load()
	eventually(t, 5*time.Second, "reads go on after the refused change", func() bool { return reads.Load() >= afterRefusal+20 })
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || reads.Load() == 0 {
		t.Fatalf("%d of %d reads failed during the changes (first: %v)", failures.Load(), reads.Load()+failures.Load(), firstFailure.Load())
	}
	t.Logf("%d reads during 5 changes and a refused one, none failed", reads.Load())
	got := ag.api(t, "GET", "/api/sources/erp", nil)
	if got.Header.Get("ETag") != etag || !strings.Contains(string(got.Body), `"page_size":1000`) || !strings.Contains(string(got.Body), `"connected":true`) {
		t.Fatalf("after the refused change: %s %s", got.Header.Get("ETag"), got.Body)
	}

	// a second admin who read before the last change is refused
	stale := ag.api(t, "PUT", "/api/sources/erp", map[string]any{"dsn": db.DSN, "read_only": true}, "If-Match", `"1"`)
	if stale.Status != 412 {
		t.Fatalf("stale If-Match: %d %s", stale.Status, stale.Body)
	}

	// reload after a schema change, through the API
	execSQL(t, db.DSN, `ALTER TABLE "Suppliers" ADD COLUMN "Region" varchar(20)`)
	rl := ag.api(t, "POST", "/api/sources/erp/reload", nil)
	if rl.Status != 200 || !strings.Contains(string(rl.Body), "Suppliers.Region") {
		t.Fatalf("reload: %d %s", rl.Status, rl.Body)
	}
	execSQL(t, db.DSN, `ALTER TABLE "Suppliers" DROP COLUMN "Region"`)
	rl = ag.api(t, "POST", "/api/sources/erp/reload", nil)
	if !strings.Contains(string(rl.Body), "warning") || !strings.Contains(string(rl.Body), `"removed_properties":["Suppliers.Region"]`) {
		t.Fatalf("reload after a drop: %s", rl.Body)
	}
	// the compatibility report names what was left out
	rep := ag.api(t, "GET", "/api/sources/erp/report", nil)
	if rep.Status != 200 || !strings.Contains(string(rep.Body), "no_key_log") || !strings.Contains(string(rep.Body), `"salesforce_type":"Checkbox"`) {
		t.Fatalf("report: %d %.400s", rep.Status, rep.Body)
	}

	// removal while a slow request runs: it finishes, new ones get 404,
	// then the pool closes
	etag = ag.api(t, "GET", "/api/sources/erp", nil).Header.Get("ETag")
	slow := make(chan response, 1)
	go func() {
		res, err := http.Get(ag.odata + "/odata/erp/slow_rows?$filter=id%20le%202")
		if err != nil {
			slow <- response{Status: -1}
			return
		}
		defer res.Body.Close()
		var body strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
		slow <- response{Status: res.StatusCode, Body: []byte(body.String())}
	}()
	direct := testPool(t, db.DSN)
	eventually(t, 5*time.Second, "the slow request runs on the source", func() bool { return activeQueries(t, direct, "slow_rows") == 1 })
	if del := ag.api(t, "DELETE", "/api/sources/erp", nil, "If-Match", etag); del.Status != 204 {
		t.Fatalf("delete: %d %s", del.Status, del.Body)
	}
	if r := do(t, "GET", ag.odata+"/odata/erp/Customers?$top=1", nil); r.Status != 404 {
		t.Fatalf("after delete: %d", r.Status)
	}
	sr := <-slow
	if sr.Status != 200 || strings.Count(string(sr.Body), `"nap"`) != 2 {
		t.Fatalf("the request running during removal: %d %s", sr.Status, sr.Body)
	}
	pool, err := pgxpool.New(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	eventually(t, 10*time.Second, "the removed source's pool closes", func() bool {
		var n int
		pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'odatagw'`, db.Name).Scan(&n)
		return n == 0
	})

	// test without saving, with a password: reported, not kept, not shown
	tr := ag.api(t, "POST", "/api/test", map[string]any{"dsn": dsn})
	if tr.Status != 200 || !strings.Contains(string(tr.Body), `"entity_set":"Customers"`) {
		t.Fatalf("test: %d %.300s", tr.Status, tr.Body)
	}
	if list := ag.api(t, "GET", "/api/sources", nil); strings.Contains(string(list.Body), `"erp"`) {
		t.Fatalf("a tested source was kept: %s", list.Body)
	}
	badTest := ag.api(t, "POST", "/api/test", map[string]any{"dsn": strings.Replace(dsn, db.Name, "no_such_db", 1)})
	if _, field := apiError(t, badTest); badTest.Status != 422 || field != "dsn" || !strings.Contains(string(badTest.Body), "no_such_db") {
		t.Fatalf("test of a missing database: %d %s", badTest.Status, badTest.Body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "bad name!", "dsn": db.DSN}, "name"},
		{map[string]any{"name": "x", "dsn": "oracle://scott@localhost/orcl"}, "dsn"},
		{map[string]any{"name": "x", "dsn": ""}, "dsn"},
		{map[string]any{"name": "x", "dsn": db.DSN, "page_size": 5000}, "page_size"},
		{map[string]any{"name": "x", "dsn": db.DSN, "pagesize": 5}, "pagesize"},
	} {
		r := ag.api(t, "POST", "/api/sources", c.body)
		if _, field := apiError(t, r); field != c.field || r.Status/100 != 4 {
			t.Errorf("%v: %d field %q, want field %q", c.body, r.Status, field, c.field)
		}
	}

	for what, text := range map[string]string{"admin API answers": ag.answers.String(), "logs": ag.logs.String()} {
		if strings.Contains(text, password) {
			t.Errorf("the DSN password appears in the %s", what)
		}
	}
}

// TestAdminSharedState runs two gateways over one PostgreSQL state store:
// a source added, changed or removed on one is served the same way by the
// other within seconds.
func TestAdminSharedState(t *testing.T) {
	needPostgres(t)
	state := testdb.NewPostgres(t)
	data := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	password := "pw-" + randomHex(8)
	recordSecret(t, password)
	dsn := strings.Replace(data.DSN, "postgres@", "postgres:"+password+"@", 1)
	a := startAdminGateway(t, state.DSN, "shared key", nil)
	b := startAdminGateway(t, state.DSN, "shared key", nil)

	if r := a.api(t, "POST", "/api/sources", map[string]any{"auth": anon, "name": "erp", "dsn": dsn}); r.Status != 201 {
		t.Fatalf("create on A: %d %s", r.Status, r.Body)
	}
	eventually(t, 10*time.Second, "B serves the source A added", func() bool {
		return do(t, "GET", b.odata+"/odata/erp/Customers?$top=1", nil).Status == 200
	})
	got := b.api(t, "GET", "/api/sources/erp", nil)
	if r := b.api(t, "PUT", "/api/sources/erp", map[string]any{"auth": anon, "dsn": data.DSN, "read_only": true}, "If-Match", got.Header.Get("ETag")); r.Status != 200 {
		t.Fatalf("update on B: %d %s", r.Status, r.Body)
	}
	eventually(t, 10*time.Second, "A applies B's change (read-only: writes refused)", func() bool {
		r := do(t, "POST", a.odata+"/odata/erp/Suppliers", []byte(`{"SupplierId":9001,"Name":"x"}`), "Content-Type", "application/json")
		return r.Status == 405
	})
	if r := a.api(t, "DELETE", "/api/sources/erp", nil); r.Status != 204 {
		t.Fatalf("delete on A: %d %s", r.Status, r.Body)
	}
	eventually(t, 10*time.Second, "B stops serving the removed source", func() bool {
		return do(t, "GET", b.odata+"/odata/erp/Customers?$top=1", nil).Status == 404
	})
	for _, g := range []*adminGateway{a, b} {
		for what, text := range map[string]string{"admin API answers": g.answers.String(), "logs": g.logs.String()} {
			if strings.Contains(text, password) {
				t.Errorf("the DSN password appears in the %s", what)
			}
		}
	}
}

// TestAdminConfiguredSources: sources from the configuration are
// registered (so the API lists them) but changed only in the file.
func TestAdminConfiguredSources(t *testing.T) {
	needPostgres(t)
	data := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	state := filepath.Join(t.TempDir(), "state.db")
	ag := startAdminGateway(t, state, "k", map[string]config.Source{"erp": {DSN: data.DSN, Auth: config.Auth{Anonymous: true}}})
	st := ag.api(t, "GET", "/api/sources/erp", nil)
	if st.Status != 200 || !strings.Contains(string(st.Body), `"origin":"config"`) {
		t.Fatalf("configured source: %d %s", st.Status, st.Body)
	}
	for _, r := range []response{
		ag.api(t, "PUT", "/api/sources/erp", map[string]any{"dsn": data.DSN, "read_only": true}),
		ag.api(t, "DELETE", "/api/sources/erp", nil),
	} {
		if code, _ := apiError(t, r); r.Status != 409 || code != "FromConfiguration" {
			t.Errorf("changing a configured source: %d %s", r.Status, r.Body)
		}
	}
	if r := ag.api(t, "POST", "/api/sources", map[string]any{"name": "erp", "dsn": data.DSN}); r.Status != 409 {
		t.Errorf("adding a name that exists: %d %s", r.Status, r.Body)
	}
	// a source added through the API survives a restart; one taken out of
	// the configuration is unregistered
	if r := ag.api(t, "POST", "/api/sources", map[string]any{"auth": anon, "name": "crm", "dsn": data.DSN}); r.Status != 201 {
		t.Fatalf("adding crm: %d %s", r.Status, r.Body)
	}
	ag.stop()
	again := startAdminGateway(t, state, "k", nil)
	list := string(again.api(t, "GET", "/api/sources", nil).Body)
	if !strings.Contains(list, `"name":"crm"`) || strings.Contains(list, `"name":"erp"`) || strings.Contains(list, `"name":"demo"`) {
		t.Errorf("after a restart without erp in the configuration: %s", list)
	}
	if r := do(t, "GET", again.odata+"/odata/crm/Customers?$top=1", nil); r.Status != 200 {
		t.Errorf("crm after a restart: %d", r.Status)
	}
}

// TestAdminWithoutSecretKey: without the operator's key, the API refuses to
// store a password (at the password field), while a configured source
// with a password still serves, its password kept out of the store.
func TestAdminWithoutSecretKey(t *testing.T) {
	needPostgres(t)
	data := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	password := "pw-" + randomHex(8)
	recordSecret(t, password)
	dsn := strings.Replace(data.DSN, "postgres@", "postgres:"+password+"@", 1)
	state := filepath.Join(t.TempDir(), "state.db")
	ag := startAdminGateway(t, state, "", map[string]config.Source{"erp": {DSN: dsn, Auth: config.Auth{Anonymous: true}}})
	if r := do(t, "GET", ag.odata+"/odata/erp/Customers?$top=1", nil); r.Status != 200 {
		t.Fatalf("configured source with a password: %d %s", r.Status, r.Body)
	}
	r := ag.api(t, "POST", "/api/sources", map[string]any{"name": "crm", "dsn": dsn, "auth": anon})
	if code, field := apiError(t, r); r.Status != 422 || code != "NoSecretKey" || field != "password" || !strings.Contains(string(r.Body), "ODATAGW_SECRET_KEY") {
		t.Fatalf("a password without a key: %d %s", r.Status, r.Body)
	}
	if r := ag.api(t, "POST", "/api/sources", map[string]any{"name": "crm", "dsn": data.DSN, "auth": anon}); r.Status != 201 {
		t.Fatalf("a DSN without a password needs no key: %d %s", r.Status, r.Body)
	}
	ag.stop()
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), password) {
		t.Error("the password is in the state file")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(state), "secret.key")); err == nil {
		t.Error("the gateway wrote a key file")
	}
}

// TestAdminSharedStateWithRedis: with a Redis, a change on one gateway
// tells the others to look at the store at once, instead of at their next
// poll (set to an hour here, so only the message can explain the pick-up).
func TestAdminSharedStateWithRedis(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	state := testdb.NewPostgres(t)
	data := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	prefix := testdb.RedisPrefix(t, redisURL)
	withRedis := func(s *app.Settings) {
		s.Defaults.Redis, s.Defaults.RedisPrefix = redisURL, prefix
		s.StatePoll = time.Hour
	}
	a := startAdminGateway(t, state.DSN, "k", nil, withRedis)
	b := startAdminGateway(t, state.DSN, "k", nil, withRedis)
	eventually(t, 5*time.Second, "both subscribed to Redis", func() bool { return a.gw.HearsReplicas() && b.gw.HearsReplicas() })
	if r := a.api(t, "POST", "/api/sources", map[string]any{"name": "erp", "dsn": data.DSN, "auth": anon}); r.Status != 201 {
		t.Fatalf("create on A: %d %s", r.Status, r.Body)
	}
	eventually(t, 5*time.Second, "B serves the source A added, told over Redis", func() bool {
		return do(t, "GET", b.odata+"/odata/erp/Customers?$top=1", nil).Status == 200
	})
	if r := a.api(t, "DELETE", "/api/sources/erp", nil); r.Status != 204 {
		t.Fatalf("delete on A: %d", r.Status)
	}
	eventually(t, 5*time.Second, "B drops it", func() bool {
		return do(t, "GET", b.odata+"/odata/erp/Customers?$top=1", nil).Status == 404
	})
}

// TestSwapsDoNotLeak changes a source fifty times: each change opens a new
// pool and cache and drains the old ones, which must leave nothing
// running behind (goroutines of pools, watchers, caches).
func TestSwapsDoNotLeak(t *testing.T) {
	needPostgres(t)
	data := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	r := ag.api(t, "POST", "/api/sources", map[string]any{"name": "erp", "dsn": data.DSN, "auth": anon})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	etag := r.Header.Get("ETag")
	change := func(i int) {
		r := ag.api(t, "PUT", "/api/sources/erp", map[string]any{"dsn": data.DSN, "auth": anon, "page_size": 100 + i}, "If-Match", etag)
		if r.Status != 200 {
			t.Fatalf("change %d: %d %s", i, r.Status, r.Body)
		}
		etag = r.Header.Get("ETag")
		do(t, "GET", ag.odata+"/odata/erp/Customers?$top=1", nil)
	}
	for i := 0; i < 5; i++ { // settle: the first swaps start what stays (idle HTTP connections)
		change(i)
	}
	before := settledGoroutines(t)
	for i := 5; i < 55; i++ {
		change(i)
	}
	var after int
	eventually(t, 10*time.Second, "the replaced sources' goroutines end", func() bool {
		after = runtime.NumGoroutine()
		return after <= before+5
	})
	t.Logf("goroutines: %d before 50 changes, %d after", before, after)
}
