package tests

import (
	"net/http"
	"strings"
	"testing"
)

// errorScenario is a request that must fail in a precise way.
type errorScenario struct {
	method string
	url    string // readable, below the service root
	status int
	code   string
	target string // expected error target, when set
	msg    string // a fragment the message must hold, when set
}

var errorScenarios = []errorScenario{
	{"GET", "Nope", 404, "UnknownEntitySet", "Nope", "no entity set named Nope"},
	{"GET", "Customers(999999)", 404, "EntityNotFound", "", "no entity with key 999999"},
	{"GET", "Customers(1)/Nope", 404, "UnknownProperty", "", ""},
	{"GET", "Customers?$select=Nope", 400, "UnknownProperty", "$select", ""},
	{"GET", "Customers?$filter=Nope eq 1", 400, "UnknownProperty", "$filter", "no property Nope"},
	{"GET", "Customers?$orderby=Nope", 400, "UnknownProperty", "$orderby", "no property Nope"},
	{"GET", "Customers(42)(((", 400, "SyntaxError", "path", "unbalanced parentheses"},
	{"GET", "Customers()/Name/$value", 400, "SyntaxError", "Customers", "not a function"},
	{"GET", "Customers(42)/(((Name", 400, "SyntaxError", "path", "must start with a name"},
	{"GET", "Customers(42)(1)", 400, "SyntaxError", "path", "no parentheses may follow its key"},
	{"GET", "Customers/42", 501, "NotImplemented", "", "key-as-segment"},
	{"GET", "OrderLines/42", 400, "SyntaxError", "", "compound key"},
	{"GET", "Customers?$filter=Name eq 'x", 400, "SyntaxError", "$filter", "position 9"},
	{"GET", "Customers?$filter=Name == 'x'", 400, "SyntaxError", "$filter", "eq, ne"},
	{"GET", "Customers?$filter=Name eq 1", 400, "TypeMismatch", "$filter", "cannot compare Edm.String"},
	{"GET", "Customers?$filter=Name", 400, "TypeMismatch", "$filter", "true or false"},
	{"GET", "Customers?$filter=contians(Name,'x')", 400, "BadRequest", "$filter", "not a function"},
	{"GET", "Customers?$top=-1", 400, "SyntaxError", "$top", ""},
	{"GET", "Customers?$top=abc", 400, "SyntaxError", "$top", ""},
	{"GET", "Customers?$count=yes", 400, "SyntaxError", "$count", ""},
	{"GET", "Customers?$top=1&$top=2", 400, "BadRequest", "$top", "more than once"},
	{"GET", "Customers?$bogus=1", 400, "BadRequest", "$bogus", ""},
	{"GET", "Customers(1)?$filter=Name eq 'x'", 400, "BadRequest", "$filter", "does not apply"},
	{"GET", "Customers('abc')", 400, "TypeMismatch", "CustomerId", ""},
	{"GET", "Customers(1,2)", 400, "SyntaxError", "key", "needs a name"},
	{"GET", "OrderLines(1)", 400, "BadRequest", "key", "2 part(s)"},
	{"GET", "Customers?$skiptoken=xyz", 400, "InvalidSkipToken", "$skiptoken", ""},
	{"GET", "Customers?$format=xml", 406, "NotAcceptable", "$format", ""},
	{"GET", "Customers?$format=atom", 406, "NotAcceptable", "$format", ""},
	{"GET", "Customers?$expand=Orders", 501, "NotImplemented", "$expand", "$expand"},
	{"GET", "Customers?$apply=groupby((Country))", 501, "NotImplemented", "$apply", ""},
	{"GET", "Customers?$compute=Rating mul 2 as R", 501, "NotImplemented", "$compute", ""},
	{"GET", "Customers?$filter=Orders/any(o:o/Total gt 5)", 501, "NotImplemented", "$filter", "lambda"},
	{"GET", "Customers?$filter=Name eq @p&@p='x'", 501, "NotImplemented", "$filter", "alias"},
	{"GET", "Customers?$filter=matchesPattern(Name,'^A')", 501, "NotImplemented", "$filter", "matchespattern"},
	{"GET", "Customers?$filter=isof(Name,Edm.String)", 501, "NotImplemented", "$filter", ""},
	{"GET", "$batch", 405, "MethodNotAllowed", "", ""},
	{"GET", "Customers/1", 501, "NotImplemented", "", "key-as-segment"},
	{"GET", "Customers(1)/$ref", 501, "NotImplemented", "", "$ref"},
	{"POST", "$metadata", 405, "MethodNotAllowed", "", ""},
	{"DELETE", "Customers/$count", 405, "MethodNotAllowed", "", ""},
	{"POST", "$batch", 415, "UnsupportedMediaType", "", "multipart/mixed"},
	{"PATCH", "$metadata", 405, "MethodNotAllowed", "", ""},
}

func TestErrors(t *testing.T) {
	for _, tg := range targets(t) {
		for _, sc := range errorScenarios {
			t.Run(tg.label()+"/"+sc.method+" "+sc.url, func(t *testing.T) {
				res := do(t, sc.method, tg.root+encodeQuery(sc.url), nil)
				if res.Status != sc.status {
					t.Fatalf("status %d, want %d: %s", res.Status, sc.status, res.Body)
				}
				if res.Header.Get("OData-Version") == "" {
					t.Error("error response without OData-Version")
				}
				body := res.JSON(t)
				e := body["error"].(map[string]any)
				if e["code"] != sc.code {
					t.Errorf("code %v, want %s", e["code"], sc.code)
				}
				if sc.target != "" && e["target"] != sc.target {
					t.Errorf("target %v, want %s", e["target"], sc.target)
				}
				if msg, _ := e["message"].(string); sc.msg != "" && !strings.Contains(msg, sc.msg) {
					t.Errorf("message %q lacks %q", msg, sc.msg)
				}
				if sc.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			})
		}
	}
}

func TestProtocolHeaders(t *testing.T) {
	tg := demoTarget
	if v := tg.get(t, "Customers?$top=1", "OData-MaxVersion", "4.0").Header.Get("OData-Version"); v != "4.0" {
		t.Errorf("a 4.0 client got OData-Version %q", v)
	}
	if v := tg.get(t, "Customers?$top=1", "OData-MaxVersion", "4.01").Header.Get("OData-Version"); v != "4.01" {
		t.Errorf("a 4.01 client got OData-Version %q", v)
	}
	if r := tg.get(t, "Customers?$top=1", "OData-MaxVersion", "3.0"); r.Status != 400 {
		t.Errorf("OData-MaxVersion 3.0: %d", r.Status)
	}
	if r := tg.get(t, "Customers?$top=1", "Accept", "application/xml"); r.Status != 406 {
		t.Errorf("Accept: application/xml on data: %d", r.Status)
	}
	head := do(t, http.MethodHead, tg.root+"Customers(1)", nil)
	if head.Status != 200 || len(head.Body) != 0 || head.Header.Get("ETag") == "" {
		t.Errorf("HEAD: %d, %d bytes, ETag %q", head.Status, len(head.Body), head.Header.Get("ETag"))
	}
	if r := tg.get(t, "Customers(1)", "If-None-Match", head.Header.Get("ETag")); r.Status != 304 {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", r.Status)
	}
	if r := tg.get(t, "Customers(1)", "If-None-Match", `W/"other"`); r.Status != 200 {
		t.Errorf("If-None-Match with another ETag: %d, want 200", r.Status)
	}
	if r := tg.get(t, "Customers(1)/Email/$value"); r.Status != 200 && r.Status != 204 {
		t.Errorf("$value: %d", r.Status)
	}
	svc := tg.get(t, "")
	if svc.Status != 200 || !strings.Contains(string(svc.Body), `"name":"Customers","kind":"EntitySet"`) {
		t.Errorf("service document: %d %s", svc.Status, svc.Body)
	}
	noSlash := do(t, http.MethodGet, strings.TrimSuffix(tg.root, "/"), nil)
	if noSlash.Status != 200 {
		t.Errorf("service root without trailing slash: %d", noSlash.Status)
	}
}
