package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestSlowShapeToItsIndex, on PostgreSQL and MariaDB: a list view on an
// unindexed column is reported as a shape with its SQL, never with the
// values it was sent unless sampled; sampled, its plan names the scan,
// and the index advised for it, once created, turns the plan into an
// index search (told by the plan, not by time).
func TestSlowShapeToItsIndexPostgres(t *testing.T) {
	db := testdb.NewPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE items (id integer PRIMARY KEY, code varchar(20) NOT NULL, name varchar(80) NOT NULL);
		INSERT INTO items SELECT g, 'C-' || g, 'item ' || g FROM generate_series(1, 50000) g; ANALYZE items`); err != nil {
		t.Fatal(err)
	}
	shapeScenario(t, db.DSN, func(sql string) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		conn.Exec(ctx, "ANALYZE items")
	})
}

func TestSlowShapeToItsIndexMySQL(t *testing.T) {
	m := testdb.NewMySQL(t)
	db, err := testdb.OpenMySQL(m.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE items (id int PRIMARY KEY, code varchar(20) NOT NULL, name varchar(80) NOT NULL)`,
		`INSERT INTO items SELECT seq, CONCAT('C-', seq), CONCAT('item ', seq) FROM seq_1_to_50000`, `ANALYZE TABLE items`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	shapeScenario(t, m.DSN, func(q string) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		db.Exec("ANALYZE TABLE items")
	})
}

func shapeScenario(t *testing.T, dsn string, run func(string)) {
	ag := startAdminGateway(t, "", "", map[string]config.Source{"erp": {DSN: dsn, Auth: config.Auth{Anonymous: true}}})
	const secret = "C-4242"
	list := func(code string) {
		q := url.Values{"$filter": {"code eq '" + code + "'"}, "$count": {"true"}, "$top": {"26"}, "$select": {"id,name"}}
		if r := do(t, "GET", ag.odata+"/odata/erp/items?"+q.Encode(), nil); r.Status != 200 {
			t.Fatalf("list view: %d %s", r.Status, r.Body)
		}
	}
	for _, c := range []string{secret, "C-7", "C-49999"} {
		list(c)
	}
	var shapes struct {
		Shapes []struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			Shape struct {
				Set, Filter string
			} `json:"shape"`
			Day struct{ Calls int } `json:"last_24h"`
		} `json:"shapes"`
	}
	r := ag.api(t, "GET", "/api/sources/erp/shapes", nil)
	json.Unmarshal(r.Body, &shapes)
	id := ""
	for _, s := range shapes.Shapes {
		if s.Shape.Set == "items" && s.Shape.Filter == "(code eq ?)" {
			id = s.ID
			if s.Day.Calls != 3 || s.Name != "related list" && s.Name != "list view" {
				t.Errorf("the shape: %+v", s)
			}
		}
	}
	if id == "" {
		t.Fatalf("no shape for the list view: %s", r.Body)
	}
	detail := func(explain string) map[string]any {
		path := "/api/sources/erp/shapes/" + id
		if explain != "" {
			path += "?explain=" + explain
		}
		r := ag.api(t, "GET", path, nil)
		var out map[string]any
		json.Unmarshal(r.Body, &out)
		out["status"] = float64(r.Status)
		return out
	}
	d := detail("")
	if sqlText, _ := d["sql"].(string); !strings.Contains(sqlText, "items") || strings.Contains(sqlText, "C-") {
		t.Errorf("the shape's SQL: %q", sqlText)
	}
	if d := detail("plan"); d["status"] != float64(409) || !strings.Contains(fmt.Sprint(d["error"]), "NeedsSample") {
		t.Errorf("a plan before sampling: %v", d)
	}
	// sampled: the next request's values are kept, and the plan scans
	if r := ag.api(t, "PUT", "/api/sources/erp/shapes/"+id+"/sampling", map[string]bool{"on": true}); r.Status != 204 {
		t.Fatalf("sampling: %d %s", r.Status, r.Body)
	}
	list("C-123")
	d = detail("plan")
	ex, _ := d["explanation"].(map[string]any)
	if scans, _ := ex["scans"].([]any); len(scans) == 0 {
		t.Fatalf("the plan of a filter on an unindexed column names no scan: %v", d)
	}
	// the count beside the page reads the same rows: its plan is shown
	// too, with its scan
	cex, _ := d["count_explanation"].(map[string]any)
	if scans, _ := cex["scans"].([]any); len(scans) == 0 || !strings.Contains(fmt.Sprint(d["count_sql"]), "count(*)") {
		t.Fatalf("the count's plan names no scan: %v", d)
	}
	advice, _ := d["advice"].([]any)
	if len(advice) == 0 {
		t.Fatalf("no index advised: %v", d)
	}
	create := advice[0].(map[string]any)["sql"].(string)
	if !strings.Contains(create, "code") {
		t.Errorf("the advised index: %s", create)
	}
	// the table's size, as its statistics say (50,000 rows)
	if rows, _ := advice[0].(map[string]any)["rows"].(float64); rows < 40_000 || rows > 60_000 {
		t.Errorf("the advice's rows: %v", advice[0])
	}
	// the traffic's advice, ranked, from the API and from the command line
	var ranked struct {
		Indexes []struct {
			SQL         string  `json:"sql"`
			FromTraffic bool    `json:"from_traffic"`
			DBMS        float64 `json:"db_ms_24h"`
			Calls       int     `json:"calls_24h"`
		} `json:"indexes"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/index-advice", nil).Body, &ranked)
	if len(ranked.Indexes) == 0 || ranked.Indexes[0].SQL != create || !ranked.Indexes[0].FromTraffic || ranked.Indexes[0].Calls < 4 || ranked.Indexes[0].DBMS <= 0 {
		t.Errorf("the traffic's index advice: %+v", ranked.Indexes)
	}
	cli := command(t, buildBinary(t), []string{"ODATAGW_ADMIN_TOKEN=" + ag.token}, "check", "--indexes", "--from-traffic", ag.admin, "erp")
	printed, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(printed), create) || !strings.Contains(string(printed), "calls") {
		t.Errorf("odatagw check --indexes --from-traffic: %v\n%s", err, printed)
	}
	run(create)
	d = detail("analyze")
	ex, _ = d["explanation"].(map[string]any)
	if scans, _ := ex["scans"].([]any); len(scans) != 0 || ex["analyzed"] != true {
		t.Errorf("with the advised index the plan still scans: %v", ex)
	}
	cex, _ = d["count_explanation"].(map[string]any)
	if scans, _ := cex["scans"].([]any); len(scans) != 0 {
		t.Errorf("with the advised index the count still scans: %v", cex)
	}
	// the literal sent before sampling is in no answer, and sampling off
	// forgets the one kept
	ag.api(t, "PUT", "/api/sources/erp/shapes/"+id+"/sampling", map[string]bool{"on": false})
	all := string(ag.api(t, "GET", "/api/sources/erp/shapes", nil).Body) + fmt.Sprint(detail(""))
	if strings.Contains(all, secret) || strings.Contains(all, "C-123") {
		t.Error("the shape table gives away a value sent in a filter")
	}
	if strings.Contains(ag.answers.String(), secret) {
		t.Error("an admin API answer held a value sent in a filter before sampling")
	}
	// the callout budget
	var c struct {
		ThisHour int64   `json:"this_hour"`
		Limit    int     `json:"limit"`
		Percent  float64 `json:"percent"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/callouts", nil).Body, &c)
	if c.ThisHour < 4 || c.Limit != config.DefaultCalloutsPerHour || c.Percent <= 0 {
		t.Errorf("callouts: %+v", c)
	}
}

// TestListViewCountExplained, on PostgreSQL and MariaDB: a list view
// with $count=true over 20,000 rows reads its page through the key's
// index but counts by reading every row. The count's statement and plan
// are shown beside the page's, its scan named, and what spares it said;
// the shape's database time is what the request waited for (never above
// its total), with each statement's own; an order by the key after a
// filter is advised as one index; a write's database time is recorded.
func TestListViewCountExplainedPostgres(t *testing.T) {
	db := testdb.NewPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE contacts (contact_id integer PRIMARY KEY, last_name varchar(40) NOT NULL, first_name varchar(40));
		INSERT INTO contacts SELECT g, 'Name' || (g % 500), 'First ' || g FROM generate_series(1, 20000) g; ANALYZE contacts`); err != nil {
		t.Fatal(err)
	}
	countScenario(t, db.DSN, `("last_name", "contact_id")`)
}

func TestListViewCountExplainedMySQL(t *testing.T) {
	m := testdb.NewMySQL(t)
	db, err := testdb.OpenMySQL(m.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE contacts (contact_id int PRIMARY KEY, last_name varchar(40) NOT NULL, first_name varchar(40))`,
		`INSERT INTO contacts SELECT seq, CONCAT('Name', seq % 500), CONCAT('First ', seq) FROM seq_1_to_20000`, `ANALYZE TABLE contacts`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	countScenario(t, m.DSN, "(`last_name`, `contact_id`)")
}

func countScenario(t *testing.T, dsn, advisedColumns string) {
	ag := startAdminGateway(t, "", "", map[string]config.Source{"erp": {DSN: dsn, Auth: config.Auth{Anonymous: true}}})
	list := func(query string) {
		if r := do(t, "GET", ag.odata+"/odata/erp/contacts?"+query, nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", query, r.Status, r.Body)
		}
	}
	const view = "$select=contact_id,last_name&$count=true&$top=26"
	const byName = "$filter=last_name%20eq%20'Name7'&$orderby=contact_id&$count=true&$top=26"
	for i := 0; i < 3; i++ {
		list(view)
		list(byName)
	}
	if r := do(t, "PATCH", ag.odata+"/odata/erp/contacts(5)", []byte(`{"first_name":"Edited"}`), "Content-Type", "application/json"); r.Status != 204 {
		t.Fatalf("an edit: %d %s", r.Status, r.Body)
	}
	type stats struct {
		Calls      int     `json:"calls"`
		P95        float64 `json:"p95_ms"`
		Max        float64 `json:"max_ms"`
		Total      float64 `json:"total_ms"`
		DB         float64 `json:"db_ms"`
		DBP95      float64 `json:"db_p95_ms"`
		DBMax      float64 `json:"db_max_ms"`
		Pages      int     `json:"page_statements"`
		Counts     int     `json:"count_statements"`
		CountMax   float64 `json:"count_db_max_ms"`
		PageDBMean float64 `json:"page_db_mean_ms"`
	}
	var table struct {
		Shapes []struct {
			ID    string `json:"id"`
			Shape struct {
				Set, Method, Filter string
				Count               bool
			} `json:"shape"`
			Hour stats `json:"last_hour"`
		} `json:"shapes"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/shapes", nil).Body, &table)
	ids := map[string]string{}
	for _, s := range table.Shapes {
		h := s.Hour
		if h.DB > h.Total || h.DBP95 > h.P95 || h.DBMax > h.Max {
			t.Errorf("%s %s: database time above the total: %+v", s.Shape.Method, s.Shape.Filter, h)
		}
		switch {
		case s.Shape.Method == "PATCH":
			ids["edit"] = s.ID
			if h.DB <= 0 {
				t.Errorf("the edit's database time: %+v", h)
			}
		case s.Shape.Set == "contacts" && s.Shape.Filter == "":
			ids["view"] = s.ID
			if h.Pages != 3 || h.Counts != 3 || h.CountMax <= 0 || h.PageDBMean <= 0 {
				t.Errorf("the list view's statements: %+v", h)
			}
		case s.Shape.Set == "contacts":
			ids["byName"] = s.ID
		}
	}
	if len(ids) != 3 {
		t.Fatalf("shapes %v in %+v", ids, table.Shapes)
	}
	ag.api(t, "PUT", "/api/sources/erp/shapes/"+ids["view"]+"/sampling", map[string]bool{"on": true})
	list(view)
	var d struct {
		SQL         string `json:"sql"`
		CountSQL    string `json:"count_sql"`
		CountedBy   string `json:"counted_by"`
		CountAdvice string `json:"count_advice"`
		Explanation struct {
			Scans []string `json:"scans"`
		} `json:"explanation"`
		CountExplanation *struct {
			Scans []string `json:"scans"`
			Plan  []string `json:"plan"`
		} `json:"count_explanation"`
	}
	r := ag.api(t, "GET", "/api/sources/erp/shapes/"+ids["view"]+"?explain=plan", nil)
	json.Unmarshal(r.Body, &d)
	if r.Status != 200 || len(d.Explanation.Scans) != 0 || d.CountExplanation == nil || len(d.CountExplanation.Scans) == 0 {
		t.Errorf("the page reads through the key, the count every row; the answer: %d %s", r.Status, r.Body)
	}
	if strings.Count(d.SQL, "contact_id") != 2 { // selected once, ordered by once
		t.Errorf("the page's SQL: %s", d.SQL)
	}
	if !strings.Contains(d.CountSQL, "count(*)") || d.CountedBy != "" || !strings.Contains(d.CountAdvice, "odatagw track") {
		t.Errorf("the count: %s", r.Body)
	}
	// a filter ordered by the key: one index serves both
	var advised struct {
		Advice []struct {
			SQL  string `json:"sql"`
			Rows int64  `json:"rows"`
		} `json:"advice"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/shapes/"+ids["byName"], nil).Body, &advised)
	if len(advised.Advice) == 0 || !strings.Contains(advised.Advice[0].SQL, advisedColumns) || advised.Advice[0].Rows < 15_000 {
		t.Errorf("the advice for last_name eq ? order by contact_id: %+v", advised.Advice)
	}
}
