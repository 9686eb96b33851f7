package server

import (
	"net/http/httptest"
	"testing"

	"github.com/odatagw/odatagw/odata/plan"
)

// TestLinkOptions: a nextLink repeats the request's options but the
// paging ones, a delta link keeps those that decide which rows and how
// (select, filter, search, format), each as the client wrote it.
func TestLinkOptions(t *testing.T) {
	for _, c := range []struct{ raw, next, delta string }{
		{"", "", ""},
		{"$top=10&$skip=5&$filter=Name%20eq%20'a'", "$filter=Name%20eq%20'a'&", "$filter=Name%20eq%20'a'"},
		{"%24SKIPTOKEN=x&select=Name&$orderby=Name", "select=Name&$orderby=Name&", "select=Name"},
		{"$search=acme&$count=true&custom=1&$format=application/json;odata.metadata=none", "$search=acme&$count=true&custom=1&$format=application/json;odata.metadata=none&", "$search=acme&$format=application/json;odata.metadata=none"},
		{"&&$TOP=1&", "", ""},
	} {
		if got := nextOptions(c.raw); got != c.next {
			t.Errorf("nextOptions(%q) = %q, want %q", c.raw, got, c.next)
		}
		if got := deltaOptions(c.raw); got != c.delta {
			t.Errorf("deltaOptions(%q) = %q, want %q", c.raw, got, c.delta)
		}
	}
}

// TestDeltaTokens: a delta token opens as it was sealed, and not at all
// once any part of it is changed or with another gateway's secret.
func TestDeltaTokens(t *testing.T) {
	s := plan.NewSigner([]byte("a secret of the gateway"))
	tok := deltaToken{Set: "Orders", Options: "$filter=Total%20gt%201", From: 41, To: 99, After: 7, Issued: 1764000000}
	sealed := s.Seal(tok)
	var back deltaToken
	if !s.Open(sealed, &back) || back != tok {
		t.Fatalf("opened %+v from %q, want %+v", back, sealed, tok)
	}
	for i := range sealed {
		b := []byte(sealed)
		b[i] ^= 1
		var v deltaToken
		if s.Open(string(b), &v) {
			t.Fatalf("a token changed at %d of %d opened: %+v", i, len(sealed), v)
		}
	}
	if plan.NewSigner([]byte("another gateway")).Open(sealed, &back) {
		t.Error("another secret opened the token")
	}
}

// TestWriteMethod: the verb a request means, with X-HTTP-Method only on
// a POST and only naming a write.
func TestWriteMethod(t *testing.T) {
	for _, c := range []struct {
		method, tunnel, want string
		refused              bool
	}{
		{"GET", "", "", false},
		{"HEAD", "", "", false},
		{"POST", "", "POST", false},
		{"patch", "", "PATCH", false},
		{"MERGE", "", "MERGE", false},
		{"POST", "patch", "PATCH", false},
		{"POST", "MERGE", "MERGE", false},
		{"POST", "DELETE", "DELETE", false},
		{"POST", "GET", "", true},
		{"GET", "PATCH", "", true},
		{"PUT", "DELETE", "", true},
	} {
		req := httptest.NewRequest(c.method, "/odata/erp/Customers(1)", nil)
		if c.tunnel != "" {
			req.Header.Set("X-HTTP-Method", c.tunnel)
		}
		got, err := writeMethod(req)
		if (err != nil) != c.refused || got != c.want {
			t.Errorf("%s with X-HTTP-Method %q: %q, %v", c.method, c.tunnel, got, err)
		}
	}
}
