package tests

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestCountPolicies: exact counts by default; the planner's estimate where
// a set asks for it; in auto, exact below the threshold and estimated
// above. The estimate is the one EXPLAIN gives the test itself.
func TestCountPolicies(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("big.sql"))
	pool := testPool(t, db.DSN)
	// make the statistics stale, so that estimates and counts differ
	execSQL(t, db.DSN, `DELETE FROM big_accounts WHERE id % 3 = 0`)
	explain := func(where string) int64 {
		var raw []byte
		if err := pool.QueryRow(context.Background(), `EXPLAIN (FORMAT JSON) SELECT 1 FROM big_accounts`+where).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var out []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			} `json:"Plan"`
		}
		json.Unmarshal(raw, &out)
		return int64(out[0].Plan.Rows + 0.5)
	}
	exact := func(where string) int64 {
		var n int64
		pool.QueryRow(context.Background(), `SELECT count(*) FROM big_accounts`+where).Scan(&n)
		return n
	}
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: anyone(map[string]config.Source{
		"exact":     {DSN: db.DSN},
		"estimated": {DSN: db.DSN, Count: "estimated"},
		"auto":      {DSN: db.DSN, Count: "auto", CountThreshold: 1000},
		"perset":    {DSN: db.DSN, SetCount: map[string]string{"big_accounts": "estimated"}},
	})})
	count := func(source, query string) int64 {
		r := do(t, "GET", g.root(source)+encodeQuery("big_accounts/$count"+query), nil)
		n, err := strconv.ParseInt(string(r.Body), 10, 64)
		if r.Status != 200 || err != nil {
			t.Fatalf("%s %s: %d %s", source, query, r.Status, r.Body)
		}
		return n
	}
	all, few := exact(""), exact(" WHERE id <= 100")
	estAll := explain("")
	if estAll == all {
		t.Fatalf("the estimate (%d) equals the count: the test cannot tell them apart", estAll)
	}
	cases := []struct {
		source, query string
		want          int64
	}{
		{"exact", "", all},
		{"exact", "?$filter=id le 100", few},
		{"estimated", "", estAll},
		{"perset", "", estAll},
		{"auto", "", estAll},                // above the threshold: estimated
		{"auto", "?$filter=id le 100", few}, // below it: exact
	}
	for _, c := range cases {
		if got := count(c.source, c.query); got != c.want {
			t.Errorf("%s %s: %d, want %d (exact %d, estimate %d)", c.source, c.query, got, c.want, all, estAll)
		}
	}
	// @odata.count follows the same policy
	r := do(t, "GET", g.root("estimated")+"big_accounts?$top=1&$count=true", nil)
	if got := r.JSON(t)["@odata.count"]; got != json.Number(strconv.FormatInt(estAll, 10)) {
		t.Errorf("@odata.count %v, want the estimate %d", got, estAll)
	}
}

// TestCountPolicyRefused: a policy that does not exist stops the start
// with a message saying what may be written.
func TestCountPolicyRefused(t *testing.T) {
	needPostgres(t)
	for _, src := range []config.Source{{DSN: pgDB.DSN, Count: "approximately"}, {DSN: pgDB.DSN, SetCount: map[string]string{"Nope": "estimated"}}} {
		g, err := serveGateway(app.Settings{Sources: anyone(map[string]config.Source{"erp": src})})
		if err == nil {
			g.stop()
			t.Fatalf("%+v was accepted", src)
		}
		if msg := err.Error(); !strings.Contains(msg, "exact, estimated or auto") && !strings.Contains(msg, "no entity set named Nope") {
			t.Errorf("%+v: %v", src, err)
		}
	}
}
