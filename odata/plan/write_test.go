package plan_test

import (
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/testmodel"
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
