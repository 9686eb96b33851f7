package tests

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestFailuresHaveOneMeaning: errors are answers the admin must act on
// (5xx, timeouts among them), refusals are requests refused as sent
// (4xx), counted by status; the traffic API (which the overview sums) and
// the shape table say the same of a 400, a 404, a 501 and a 503, each
// under the set it was about; a set the model lacks counts with what
// named no set.
func TestFailuresHaveOneMeaning(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	u, _ := url.Parse(db.DSN)
	px := startProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	ag := startAdminGateway(t, "", "", map[string]config.Source{"erp": {DSN: u.String(), Auth: config.Auth{Anonymous: true}}})
	get := func(path string, want int) {
		t.Helper()
		if r := do(t, "GET", ag.odata+"/odata/erp/"+path, nil); r.Status != want {
			t.Fatalf("%s: %d, want %d: %s", path, r.Status, want, r.Body)
		}
	}
	get("Customers?$top=1", 200)
	get("Customers?$filter=Name%20eq", 400) // malformed: refused before planning
	get("Customers(999999)", 404)           // no such entity
	get("Customers?$expand=Orders", 501)    // not implemented
	get("NoSuchSet", 404)                   // no such set
	px.setUp(false)
	get("Customers?$top=2&$count=true", 503) // the database is unreachable
	px.setUp(true)

	var traffic struct {
		Series []struct {
			Set   string `json:"set"`
			Total struct {
				Requests  int              `json:"requests"`
				Errors    int              `json:"errors"`
				Refusals  int              `json:"refusals"`
				RefusedBy map[string]int64 `json:"refused_by_status"`
			} `json:"total"`
		} `json:"series"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/traffic", nil).Body, &traffic)
	bySet := map[string]int{}
	for i, s := range traffic.Series {
		bySet[s.Set] = i
	}
	type figures struct {
		requests, errors, refusals int
		refused                    map[string]int64
	}
	want := map[string]figures{
		"":          {6, 2, 3, map[string]int64{"400": 1, "404": 2}}, // the whole source, as the overview sums it
		"Customers": {5, 2, 2, map[string]int64{"400": 1, "404": 1}},
		"$other":    {1, 0, 1, map[string]int64{"404": 1}},
	}
	for set, w := range want {
		i, ok := bySet[set]
		if !ok {
			t.Errorf("no traffic series %q: %+v", set, traffic.Series)
			continue
		}
		tt := traffic.Series[i].Total
		if tt.Requests != w.requests || tt.Errors != w.errors || tt.Refusals != w.refusals || !sameCounts(tt.RefusedBy, w.refused) {
			t.Errorf("traffic of %q: %+v, want %+v", set, tt, w)
		}
	}

	var shapes struct {
		Shapes []struct {
			Shape struct {
				Set     string `json:"set"`
				Refused bool   `json:"refused"`
			} `json:"shape"`
			Hour struct {
				Calls    int              `json:"calls"`
				Errors   int              `json:"errors"`
				Refusals int              `json:"refusals"`
				Refused  map[string]int64 `json:"refused_by_status"`
			} `json:"last_hour"`
		} `json:"shapes"`
	}
	json.Unmarshal(ag.api(t, "GET", "/api/sources/erp/shapes", nil).Body, &shapes)
	got := map[string]*figures{}
	for _, s := range shapes.Shapes {
		f := got[s.Shape.Set]
		if f == nil {
			f = &figures{refused: map[string]int64{}}
			got[s.Shape.Set] = f
		}
		f.requests += s.Hour.Calls
		f.errors += s.Hour.Errors
		f.refusals += s.Hour.Refusals
		for st, n := range s.Hour.Refused {
			f.refused[st] += n
		}
	}
	for _, set := range []string{"Customers", "$other"} {
		g, w := got[set], want[set]
		if g == nil || g.requests != w.requests || g.errors != w.errors || g.refusals != w.refusals || !sameCounts(g.refused, w.refused) {
			t.Errorf("shapes of %q: %+v, want %+v", set, g, w)
		}
	}
}

func sameCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
