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
	if d := detail("plan"); d["status"] != float64(422) {
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
	advice, _ := d["advice"].([]any)
	if len(advice) == 0 {
		t.Fatalf("no index advised: %v", d)
	}
	create := advice[0].(map[string]any)["sql"].(string)
	if !strings.Contains(create, "code") {
		t.Errorf("the advised index: %s", create)
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
