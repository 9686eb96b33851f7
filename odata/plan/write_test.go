package plan_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/testmodel"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
)

// TestWriteMatrix: each method on each kind of resource is the write the
// matrix says, or refused with the status a client can act on, and the
// Allow header lists exactly the methods that would have worked.
func TestWriteMatrix(t *testing.T) {
	svc := testmodel.Service()
	for _, c := range []struct {
		method, path string
		want         plan.WriteKind
		status       int // 0: bound
		allow        string
	}{
		{"POST", "Customers", plan.WriteCreate, 0, "GET, HEAD, POST"},
		{"PATCH", "Customers(1)", plan.WriteMerge, 0, "GET, HEAD, PATCH, PUT, MERGE, DELETE"},
		{"MERGE", "Customers(1)", plan.WriteMerge, 0, ""},
		{"PUT", "Customers(1)", plan.WriteReplace, 0, ""},
		{"DELETE", "Customers(1)", plan.WriteDelete, 0, ""},
		{"PUT", "Customers(1)/Name", plan.WriteSetProperty, 0, "GET, HEAD, PUT, DELETE"},
		{"DELETE", "Customers(1)/Email", plan.WriteClearProperty, 0, ""},
		{"PATCH", "Customers", 0, 405, "GET, HEAD, POST"},
		{"DELETE", "Customers", 0, 405, ""},
		{"POST", "Customers(1)", 0, 405, "GET, HEAD, PATCH, PUT, MERGE, DELETE"},
		{"PATCH", "Customers(1)/Name", 0, 405, "GET, HEAD, PUT, DELETE"},
		{"PUT", "Customers(1)/Name/$value", 0, 501, "GET, HEAD"},
		{"POST", "Customers/$count", 0, 405, "GET, HEAD"},
		{"POST", "$metadata", 0, 405, "GET, HEAD"},
		{"POST", "", 0, 405, "GET, HEAD"},
		{"PATCH", "Customers(1)?$filter=Name eq 'x'", 0, 400, ""},
		{"PATCH", "Customers(1)?$select=Name&$format=json", plan.WriteMerge, 0, ""},
	} {
		path, query, _ := strings.Cut(c.path, "?")
		req, perr := uri.Parse(path, query)
		if perr != nil {
			t.Fatalf("%s: %v", c.path, perr)
		}
		target, err := plan.Target(svc, req)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		w, werr := target.Write(c.method, &req.Query)
		switch {
		case c.status == 0 && werr != nil:
			t.Errorf("%s %s: %v", c.method, c.path, werr)
		case c.status == 0 && w.Kind != c.want:
			t.Errorf("%s %s is a %v, want %v", c.method, c.path, w.Kind, c.want)
		case c.status != 0 && (werr == nil || werr.Status != c.status):
			t.Errorf("%s %s: %v, want %d", c.method, c.path, werr, c.status)
		}
		if c.allow != "" {
			if got := plan.Allow(target.Kind, false); got != c.allow {
				t.Errorf("Allow on %s: %q, want %q", c.path, got, c.allow)
			}
		}
	}
	if got := plan.Allow(plan.KindEntity, true); got != "GET, HEAD" {
		t.Errorf("Allow on a read-only entity: %q", got)
	}
}

// TestBuildIsComplete: BuildWith leaves a handler nothing to decide: a
// read's page is sized (the set's, the client's smaller maxpagesize, $top
// within it) and its skiptoken verified into the query; a write's kind is
// decided; a method the resource does not take is refused with its Allow.
func TestBuildIsComplete(t *testing.T) {
	svc := testmodel.Service()
	signer := plan.NewSigner([]byte("secret"))
	build := func(method, url string, opts plan.Options) (*plan.Plan, *odata.Error) {
		t.Helper()
		path, query, _ := strings.Cut(url, "?")
		req, perr := uri.Parse(path, query)
		if perr != nil {
			t.Fatalf("%s: %v", url, perr)
		}
		opts.Limits, opts.Signer = odata.DefaultLimits(), signer
		return plan.BuildWith(svc, req, method, opts)
	}
	size := svc.Sets[0].PageSize
	for _, c := range []struct {
		url  string
		max  int
		want plan.Page
	}{
		{"Customers", 0, plan.Page{Size: size, Top: -1, Limit: size + 1, LookOne: true}},
		{"Customers?$top=5", 0, plan.Page{Size: size, Top: 5, Limit: 5}},
		{"Customers?$top=5", 3, plan.Page{Size: 3, Top: 5, Limit: 4, LookOne: true, Applied: true}},
		{"Customers", size * 2, plan.Page{Size: size, Top: -1, Limit: size + 1, LookOne: true, Applied: true}},
		{"Customers?$top=0", 0, plan.Page{Size: size, Top: 0, Limit: 0}},
	} {
		p, err := build("GET", c.url, plan.Options{MaxPageSize: c.max})
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if p.Page != c.want || p.Query.Limit != c.want.Limit {
			t.Errorf("%s (maxpagesize %d): page %+v, limit %d; want %+v", c.url, c.max, p.Page, p.Query.Limit, c.want)
		}
	}

	// a skiptoken this signer made is read into the query's position; a
	// forged one is refused
	first, err := build("GET", "Customers?$orderby=Name", plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := signer.Encode(svc.Version(), &first.Query, []any{"Acme", int32(7)})
	next, err := build("GET", "Customers?$orderby=Name&$skiptoken="+url.QueryEscape(tok), plan.Options{})
	if err != nil || len(next.Query.After) != 2 || next.Query.After[0] != "Acme" {
		t.Errorf("the skiptoken's position: %v %v", next.Query.After, err)
	}
	if _, err := build("GET", "Customers?$orderby=Name&$skiptoken=forged.token", plan.Options{}); err == nil || err.Status != 400 {
		t.Errorf("a forged skiptoken: %v", err)
	}

	if p, err := build("PATCH", "Customers(1)", plan.Options{}); err != nil || p.Writing == nil || p.Writing.Kind != plan.WriteMerge {
		t.Errorf("a PATCH's plan: %+v %v", p, err)
	}
	if _, err := build("POST", "Customers(1)", plan.Options{}); err == nil || err.Status != 405 || err.Allow != "GET, HEAD, PATCH, PUT, MERGE, DELETE" {
		t.Errorf("POST on an entity: %+v", err)
	}
}
