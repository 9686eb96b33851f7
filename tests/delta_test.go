package tests

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// delta is one delta response read: entities by key, removals by id.
type delta struct {
	changed map[string]map[string]any // key -> entity
	removed map[string]string         // id -> reason
	next    string                    // nextLink or deltaLink
	final   bool                      // next is a deltaLink
}

func readDelta(t *testing.T, link string, headers ...string) delta {
	t.Helper()
	d := delta{changed: map[string]map[string]any{}, removed: map[string]string{}}
	for link != "" {
		r := do(t, "GET", link, nil, append([]string{"OData-MaxVersion", "4.01"}, headers...)...)
		if r.Status != 200 {
			t.Fatalf("delta %s: %d %s", link, r.Status, r.Body)
		}
		body := r.JSON(t)
		for _, v := range body["value"].([]any) {
			e := v.(map[string]any)
			if rm, ok := e["@removed"].(map[string]any); ok {
				d.removed[e["@id"].(string)] = rm["reason"].(string)
				continue
			}
			if reason, ok := e["reason"].(string); ok { // 4.0 $deletedEntity
				d.removed[e["id"].(string)] = reason
				continue
			}
			d.changed[fmt.Sprint(e["CustomerId"])] = e
		}
		link = ""
		if n, ok := body["@odata.nextLink"].(string); ok {
			link = n
		} else {
			d.next, d.final = body["@odata.deltaLink"].(string), true
		}
	}
	return d
}

// collect polls a delta link until done says the changes gathered so far
// are all there (or 10 s pass): a change comes in the first delta after its
// transaction and every older one still running have ended, and the server
// may run transactions of its own (autovacuum's ANALYZE) at any time.
func collect(t *testing.T, link string, done func(delta) bool, headers ...string) delta {
	t.Helper()
	acc := delta{changed: map[string]map[string]any{}, removed: map[string]string{}, next: link}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := readDelta(t, acc.next, headers...)
		for k, v := range d.changed {
			acc.changed[k] = v
		}
		for k, v := range d.removed {
			acc.removed[k] = v
		}
		acc.next, acc.final = d.next, d.final
		if done(acc) || time.Now().After(deadline) {
			return acc
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trackedGateway is a gateway over a fresh fixture with Customers tracked.
func trackedGateway(t *testing.T, mods ...func(*config.Source)) (*gateway, *testdb.Postgres) {
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--apply"); code != 0 {
		t.Fatalf("track: %s", errOut)
	}
	src := config.Source{DSN: db.DSN}
	for _, m := range mods {
		m(&src)
	}
	return startGateway(t, app.Settings{Defaults: uncached(), SkipTokenSecret: "delta-test-secret", Sources: erpSource(src)}), db
}

// TestDeltaLinksSalesforceFlow: Salesforce asks with $top=0 and
// Prefer: odata.track-changes, keeps the delta link, and polls it.
func TestDeltaLinksSalesforceFlow(t *testing.T) {
	needPostgres(t)
	g, db := trackedGateway(t)
	root := g.root("erp")
	first := do(t, "GET", root+"Customers?$select=CustomerId,City&$top=0", nil, "Prefer", "odata.track-changes", "OData-MaxVersion", "4.01")
	link, _ := first.JSON(t)["@odata.deltaLink"].(string)
	if first.Status != 200 || !strings.Contains(first.Header.Get("Preference-Applied"), "odata.track-changes") || !strings.Contains(link, "$deltatoken=") {
		t.Fatalf("the first read: %d %q %s", first.Status, first.Header.Get("Preference-Applied"), first.Body)
	}
	// $metadata says which sets track changes, and validates
	md := do(t, "GET", root+"$metadata", nil, "OData-MaxVersion", "4.01")
	if !strings.Contains(string(md.Body), `<Annotation Term="Capabilities.ChangeTracking"><Record><PropertyValue Property="Supported" Bool="true"/></Record></Annotation>`) {
		t.Errorf("$metadata does not annotate Customers with Capabilities.ChangeTracking")
	}
	if strings.Count(string(md.Body), "Capabilities.ChangeTracking") != 1 {
		t.Errorf("$metadata annotates %d sets as tracked, want 1", strings.Count(string(md.Body), "Capabilities.ChangeTracking"))
	}
	validateXSD(t, md.Body)
	js := do(t, "GET", root+"$metadata?$format=json", nil)
	if !strings.Contains(string(js.Body), `"@Capabilities.ChangeTracking":{"Supported":true}`) {
		t.Errorf("CSDL JSON does not annotate Customers")
	}
	validateCSDLJSON(t, js.Body)
	// an untracked set ignores the preference
	if r := do(t, "GET", root+"Orders?$top=0", nil, "Prefer", "odata.track-changes"); r.Status != 200 ||
		r.Header.Get("Preference-Applied") != "" || strings.Contains(string(r.Body), "deltaLink") {
		t.Errorf("an untracked set: %q %s", r.Header.Get("Preference-Applied"), r.Body)
	}
	// changes in SQL and through the gateway
	execSQL(t, db.DSN,
		`INSERT INTO "Customers" ("CustomerId", "Name", "Country", "City", "CreatedAt") VALUES (9001, 'New', 'France', 'Nantes', now())`,
		`UPDATE "Customers" SET "City" = 'Changed in SQL' WHERE "CustomerId" = 5`,
		`INSERT INTO "Customers" ("CustomerId", "Name", "Country", "CreatedAt") VALUES (9002, 'Brief', 'France', now())`,
		`DELETE FROM "Customers" WHERE "CustomerId" = 9002`)
	if r := do(t, "PATCH", root+"Customers(6)", []byte(`{"City":"Changed through the gateway"}`), "Content-Type", "application/json"); r.Status >= 300 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	d := collect(t, link, func(d delta) bool { return len(d.changed) >= 3 && len(d.removed) >= 1 })
	if len(d.changed) != 3 || d.changed["5"]["City"] != "Changed in SQL" || d.changed["6"]["City"] != "Changed through the gateway" ||
		d.changed["9001"]["City"] != "Nantes" || d.removed[root+"Customers(9002)"] != "deleted" || len(d.removed) != 1 || !d.final {
		t.Fatalf("the delta: changed %v, removed %v", d.changed, d.removed)
	}
	if _, hasName := d.changed["5"]["Name"]; hasName {
		t.Error("the delta ignores the read's $select")
	}
	// an empty poll gives a new link
	empty := readDelta(t, d.next)
	if len(empty.changed)+len(empty.removed) != 0 || !empty.final || !strings.Contains(empty.next, "$deltatoken=") {
		t.Errorf("the empty poll: %+v", empty)
	}
	// a tampered token is 400
	u, _ := url.Parse(empty.next)
	tok := u.Query().Get("$deltatoken")
	// changed in the middle, where every bit counts
	mid := len(tok) / 2
	swap := byte('A')
	if tok[mid] == 'A' {
		swap = 'B'
	}
	bad := root + "Customers?$deltatoken=" + url.QueryEscape(tok[:mid]+string(swap)+tok[mid+1:])
	if r := do(t, "GET", bad, nil); r.Status != 400 || errorCode(t, r) != "InvalidDeltaToken" {
		t.Errorf("a tampered token: %d %s", r.Status, r.Body)
	}
	// a 4.0 client reads deletions as $deletedEntity
	execSQL(t, db.DSN, `INSERT INTO "Customers" ("CustomerId", "Name", "Country", "CreatedAt") VALUES (9003, 'x', 'y', now())`, `DELETE FROM "Customers" WHERE "CustomerId" = 9003`)
	var r response
	eventually(t, 10*time.Second, "the deletion in a 4.0 client's delta", func() bool {
		r = do(t, "GET", empty.next, nil, "OData-MaxVersion", "4.0")
		return strings.Contains(string(r.Body), "Customers(9003)")
	})
	if !strings.Contains(string(r.Body), `$metadata#Customers/$deletedEntity"`) || !strings.Contains(string(r.Body), `"reason":"deleted"`) {
		t.Errorf("a 4.0 client's deletion: %s", r.Body)
	}
	// a restarted gateway, or a replica, sharing the secret answers the link
	other := startGateway(t, app.Settings{Defaults: uncached(), SkipTokenSecret: "delta-test-secret", Sources: erpSource(config.Source{DSN: db.DSN})})
	if r := do(t, "GET", strings.Replace(empty.next, g.base, other.base, 1), nil, "OData-MaxVersion", "4.01"); r.Status != 200 || !strings.Contains(string(r.Body), "Customers(9003)") {
		t.Errorf("another gateway with the same secret: %d %s", r.Status, r.Body)
	}
	// tracking dropped: 410
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--drop", "--apply"); code != 0 {
		t.Fatal(errOut)
	}
	eventually(t, 10*time.Second, "the gateway sees tracking dropped", func() bool {
		r := do(t, "GET", empty.next, nil)
		return r.Status == 410
	})
}

// TestDeltaFilterAndRetention: an entity that leaves the read's filter is
// removed with reason "changed"; a link older than the retention is 410.
func TestDeltaFilterAndRetention(t *testing.T) {
	needPostgres(t)
	g, db := trackedGateway(t, func(s *config.Source) { s.ChangeRetention = config.Duration(2 * time.Second) })
	root := g.root("erp")
	var id int
	testPool(t, db.DSN).QueryRow(context.Background(), `SELECT "CustomerId" FROM "Customers" WHERE "Country" = 'USA' LIMIT 1`).Scan(&id)
	first := do(t, "GET", root+encodeQuery("Customers?$filter=Country eq 'USA'&$top=0"), nil, "Prefer", "odata.track-changes")
	link := first.JSON(t)["@odata.deltaLink"].(string)
	execSQL(t, db.DSN, fmt.Sprintf(`UPDATE "Customers" SET "Country" = 'France' WHERE "CustomerId" = %d`, id))
	d := collect(t, link, func(d delta) bool { return len(d.removed) > 0 })
	if d.removed[root+fmt.Sprintf("Customers(%d)", id)] != "changed" || len(d.changed) != 0 {
		t.Errorf("leaving the filter: changed %v, removed %v", d.changed, d.removed)
	}
	eventually(t, 5*time.Second, "the link outlives the retention", func() bool {
		return do(t, "GET", d.next, nil).Status == 410
	})
	if r := do(t, "GET", d.next, nil); errorCode(t, r) != "DeltaLinkExpired" || !strings.Contains(string(r.Body), "read Customers again") {
		t.Errorf("the expired link: %s", r.Body)
	}
	// the trimming job removes what no link can ask for any more
	pool := testPool(t, db.DSN)
	eventually(t, 10*time.Second, "the change log trimmed past the retention", func() bool {
		var n int
		pool.QueryRow(context.Background(), `SELECT count(*) FROM odatagw.changes`).Scan(&n)
		return n == 0
	})
}

// TestDeltaCommitOrderAndRace: a transaction that started first and
// commits after a later one has been polled is still delivered; eight
// writers racing a poller lose and repeat nothing, and replaying the
// deltas over the first read gives the table.
func TestDeltaCommitOrderAndRace(t *testing.T) {
	needPostgres(t)
	g, db := trackedGateway(t)
	root := g.root("erp")
	pool := testPool(t, db.DSN)
	ctx := context.Background()
	first := do(t, "GET", root+"Customers?$select=CustomerId,City&$top=0", nil, "Prefer", "odata.track-changes")
	link := first.JSON(t)["@odata.deltaLink"].(string)

	// the out-of-order commit
	slow, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) // a failing test must not hold a connection the cleanup waits for
	if _, err := slow.Exec(ctx, `INSERT INTO "Customers" ("CustomerId", "Name", "Country", "CreatedAt") VALUES (9100, 'slow', 'x', now())`); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db.DSN, `INSERT INTO "Customers" ("CustomerId", "Name", "Country", "CreatedAt") VALUES (9101, 'fast', 'x', now())`)
	seen := map[string]int{}
	poll := func() {
		d := readDelta(t, link)
		for k := range d.changed {
			seen[k]++
		}
		link = d.next
	}
	poll()
	if seen["9101"] != 0 {
		t.Errorf("a change was delivered while an older transaction still ran")
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); seen["9100"] == 0 || seen["9101"] == 0; {
		if time.Now().After(deadline) {
			break
		}
		poll()
	}
	poll()
	if seen["9100"] != 1 || seen["9101"] != 1 {
		t.Fatalf("the late commit and the early one: delivered %v, want each once", seen)
	}

	// eight writers and a poller
	state := map[string]string{} // the client's copy: id -> City
	rows, _ := pool.Query(ctx, `SELECT "CustomerId"::text, COALESCE("City", '') FROM "Customers"`)
	for rows.Next() {
		var id, city string
		rows.Scan(&id, &city)
		state[id] = city
	}
	rows.Close()
	apply := func(d delta) {
		for k, e := range d.changed {
			c, _ := e["City"].(string)
			state[k] = c
		}
		for id := range d.removed {
			k := strings.TrimSuffix(strings.TrimPrefix(id, root+"Customers("), ")")
			delete(state, k)
		}
	}
	var wg sync.WaitGroup
	stop := time.Now().Add(3 * time.Second)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 60 && time.Now().Before(stop); i++ {
				id := 20000 + w*100 + i
				pool.Exec(ctx, `INSERT INTO "Customers" ("CustomerId", "Name", "Country", "City", "CreatedAt") VALUES ($1, 'w', 'x', 'new', now())`, id)
				pool.Exec(ctx, `UPDATE "Customers" SET "City" = $2 WHERE "CustomerId" = $1`, id-w-1, fmt.Sprintf("w%d-%d", w, i))
				if i%4 == 0 {
					pool.Exec(ctx, `DELETE FROM "Customers" WHERE "CustomerId" = $1`, id-2)
				}
			}
		}(w)
	}
	polls := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(50 * time.Millisecond):
		}
		d := readDelta(t, link)
		apply(d)
		link = d.next
		polls++
	}
	// every writer has ended: the deltas still to come (held back while
	// older transactions, the server's own included, ran) complete the copy
	want := map[string]string{}
	rows, _ = pool.Query(ctx, `SELECT "CustomerId"::text, COALESCE("City", '') FROM "Customers"`)
	for rows.Next() {
		var id, city string
		rows.Scan(&id, &city)
		want[id] = city
	}
	rows.Close()
	differences := func() []string {
		var diffs []string
		for k, v := range want {
			if state[k] != v {
				diffs = append(diffs, fmt.Sprintf("%s: %q, want %q", k, state[k], v))
			}
		}
		for k := range state {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, k+": still in the copy, gone from the table")
			}
		}
		sort.Strings(diffs)
		return diffs
	}
	for deadline := time.Now().Add(10 * time.Second); len(differences()) > 0 && time.Now().Before(deadline); {
		d := readDelta(t, link)
		apply(d)
		link = d.next
		polls++
		time.Sleep(50 * time.Millisecond)
	}
	if diffs := differences(); len(diffs) > 0 {
		t.Fatalf("replaying %d polls' deltas over the first read differs from the table in %d rows: %v", polls, len(diffs), diffs[:min(5, len(diffs))])
	}
	t.Logf("%d polls while 8 writers ran; the copy equals the table (%d rows)", polls, len(want))
}

// TestDeltaLinksSQLite: the same flow on an SQLite file, whose log is in
// tables beside the tracked ones (never served), numbered in commit order
// since SQLite's writers take turns.
func TestDeltaLinksSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crm.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{`CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT)`,
		`INSERT INTO accounts VALUES (1, 'One', 'Lyon'), (2, 'Two', 'Paris'), (3, 'Three', 'Lyon')`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := runCLI(t, "track", "sqlite:"+path, "--apply"); code != 0 || !strings.Contains(out, "tracking every table") {
		t.Fatalf("track: %d %s %s", code, out, errOut)
	}
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: anyone(map[string]config.Source{
		"crm": {DSN: "sqlite:" + path, ChangeRetention: config.Duration(3 * time.Second)}})})
	root := g.root("crm")
	if r := do(t, "GET", root, nil); strings.Contains(string(r.Body), "odatagw_") {
		t.Errorf("the tracking tables are served: %s", r.Body)
	}
	first := do(t, "GET", root+encodeQuery("accounts?$filter=city eq 'Lyon'&$top=0&$count=true"), nil, "Prefer", "odata.track-changes", "OData-MaxVersion", "4.01")
	link, _ := first.JSON(t)["@odata.deltaLink"].(string)
	if link == "" {
		t.Fatalf("no delta link: %s", first.Body)
	}
	for _, s := range []string{`INSERT INTO accounts VALUES (4, 'Four', 'Lyon')`, `UPDATE accounts SET city = 'Paris' WHERE id = 3`,
		`UPDATE accounts SET id = 10 WHERE id = 1`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if r := do(t, "PATCH", root+"accounts(4)", []byte(`{"name":"Four, renamed"}`), "Content-Type", "application/json"); r.Status >= 300 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	r := do(t, "GET", link, nil, "OData-MaxVersion", "4.01")
	body := string(r.Body)
	for _, want := range []string{`"id":4,"name":"Four, renamed","city":"Lyon"`, `"id":10,"name":"One","city":"Lyon"`,
		`{"@removed":{"reason":"changed"},"@id":"` + root + `accounts(3)"}`, `{"@removed":{"reason":"deleted"},"@id":"` + root + `accounts(1)"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("the delta lacks %s:\n%s", want, body)
		}
	}
	// an empty poll gives a link again; the trimming job empties the log
	// once the retention has passed
	next, _ := r.JSON(t)["@odata.deltaLink"].(string)
	if e := readDelta(t, next); len(e.changed)+len(e.removed) != 0 || !e.final {
		t.Errorf("the empty poll: %+v", e)
	}
	eventually(t, 10*time.Second, "the SQLite change log trimmed", func() bool {
		var n int
		db.QueryRow(`SELECT count(*) FROM odatagw_changes`).Scan(&n)
		return n == 0
	})
	// the count comes from the kept row count
	if r := do(t, "GET", root+"accounts/$count", nil); string(r.Body) != "4" {
		t.Errorf("$count %s, want 4", r.Body)
	}
	if _, err := db.Exec(`UPDATE odatagw_row_counts SET n = n + 1000`); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", root+"accounts/$count", nil); string(r.Body) != "1004" {
		t.Errorf("$count %s with the kept count skewed: the table was counted", r.Body)
	}
}

// TestDeltaIgnoresOtherDatabases: a long transaction in another database
// of the server (a report, a bulk load) holds no delta back: it can write
// nothing into this database's log.
func TestDeltaIgnoresOtherDatabases(t *testing.T) {
	needPostgres(t)
	g, db := trackedGateway(t)
	other := testdb.NewPostgres(t)
	otherPool := testPool(t, other.DSN)
	ctx := context.Background()
	long, err := otherPool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, `CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)`); err != nil { // takes an xid
		t.Fatal(err)
	}
	first := do(t, "GET", g.root("erp")+"Customers?$top=0", nil, "Prefer", "odata.track-changes")
	link := first.JSON(t)["@odata.deltaLink"].(string)
	execSQL(t, db.DSN, `UPDATE "Customers" SET "City" = 'Not held back' WHERE "CustomerId" = 7`)
	d := collect(t, link, func(d delta) bool { return len(d.changed) > 0 })
	if d.changed["7"]["City"] != "Not held back" {
		t.Fatalf("a transaction in another database held the delta back: %v", d.changed)
	}
}
