package plan_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/testmodel"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
)

func build(t testing.TB, path, query string) (*plan.Plan, int, string) {
	t.Helper()
	req, perr := uri.Parse(path, query)
	if perr != nil {
		return nil, perr.Status, perr.Code
	}
	p, err := plan.Build(testmodel.Service(), req, "GET")
	if err != nil {
		return nil, err.Status, err.Code
	}
	return p, 0, ""
}

// TestBindFilter shows how $filter text binds: the canonical form of the
// typed tree, or the error status it earns.
func TestBindFilter(t *testing.T) {
	cases := []struct {
		filter string
		want   string // canonical form, or "status:code"
	}{
		{"CustomerId eq 42", "(CustomerId eq 42:Edm.Int32)"},
		{"Visits eq 42", "(Visits eq 42:Edm.Int64)"},
		{"Level eq 40000", "(Level eq 40000:Edm.Int32)"},
		{"CreditLimit gt 10", "(CreditLimit gt 10:Edm.Decimal)"},
		{"Rating le 2", "(Rating le 2.0:Edm.Double)"},
		{"CustomerId eq 42.0", "(CustomerId eq 42:Edm.Int32)"},
		{"Name eq 'O''Neil'", "(Name eq 'O''Neil':Edm.String)"},
		{"Ref eq 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "(Ref eq a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11:Edm.Guid)"},
		{"BirthDate ge 2024-01-31T08:00:00Z", "(BirthDate gt 2024-01-31:Edm.Date)"},
		{"BirthDate lt 2024-01-31T00:00:00Z", "(BirthDate lt 2024-01-31:Edm.Date)"},
		{"CreatedAt gt 2024-01-31", "(CreatedAt gt 2024-01-31T00:00:00Z:Edm.DateTimeOffset)"},
		{"CreatedAt gt 2024-01-31T10:00:00+02:00", "(CreatedAt gt 2024-01-31T08:00:00Z:Edm.DateTimeOffset)"},
		{"contains(Name,'x') eq true", "(contains(Name,'x':Edm.String) eq true:Edm.Boolean)"},
		{"null eq Email", "(null:Edm.String eq Email)"},
		{"CustomerId in (1, 2)", "CustomerId in (1:Edm.Int32,2:Edm.Int32)"},
		{"not IsActive", "not(IsActive)"},
		{"Name eq 1", "400:TypeMismatch"},
		{"Name", "400:TypeMismatch"},
		{"Level eq 99999999999", "(Level eq 99999999999:Edm.Int64)"}, // promoted, matches nothing
		{"Nope eq 1", "400:UnknownProperty"},
		{"Name/Length eq 1", "400:BadRequest"},
		{"contains(Name, 1)", "400:TypeMismatch"},
		{"year(Name) eq 1", "400:TypeMismatch"},
		{"CreatedAt add duration'P1D' gt now()", "501:NotImplemented"},
		{"Level has 1", "501:NotImplemented"},
		{"matchesPattern(Name,'a')", "501:NotImplemented"},
		{"Photo gt binary'AA'", "400:TypeMismatch"},
	}
	for _, c := range cases {
		p, status, code := build(t, "Customers", "$filter="+strings.ReplaceAll(c.filter, " ", "%20"))
		var got string
		if p == nil {
			got = itoa(status) + ":" + code
		} else {
			got = plan.Canonical(p.Query.Where)
		}
		if got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.filter, got, c.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestOrderAlwaysEndsWithKey: every collection order is total, which
// keyset paging needs.
func TestOrderAlwaysEndsWithKey(t *testing.T) {
	cases := map[string]string{
		"Customers":                            "CustomerId",
		"Customers?$orderby=City%20desc":       "City desc,CustomerId",
		"Customers?$orderby=CustomerId%20desc": "CustomerId desc",
		"OrderLines?$orderby=Quantity":         "Quantity,OrderId,ProductId",
		"OrderLines?$orderby=ProductId":        "ProductId,OrderId",
	}
	for url, want := range cases {
		path, q, _ := strings.Cut(url, "?")
		p, status, code := build(t, path, q)
		if p == nil {
			t.Fatalf("%s: %d %s", url, status, code)
		}
		var parts []string
		for _, o := range p.Query.OrderBy {
			s := plan.Canonical(o.Expr)
			if o.Desc {
				s += " desc"
			}
			parts = append(parts, s)
		}
		if got := strings.Join(parts, ","); got != want {
			t.Errorf("%s: order %s, want %s", url, got, want)
		}
	}
}

// TestSkipTokenRoundTrip: a token continues exactly where it was made and
// only for the query it was made for.
func TestSkipTokenRoundTrip(t *testing.T) {
	p, _, _ := build(t, "Customers", "$orderby=City%20desc,Rating&$filter=Rating%20gt%201")
	signer := plan.NewSigner([]byte("secret"))
	tok := signer.Encode("v1", &p.Query, []any{nil, 2.5, int64(7)})
	q := p.Query
	if err := signer.Decode("v1", &q, tok); err != nil {
		t.Fatal(err)
	}
	if q.After[0] != nil || q.After[1] != 2.5 || q.After[2] != int64(7) {
		t.Fatalf("decoded %v", q.After)
	}
	if err := signer.Decode("v2", &q, tok); err == nil {
		t.Error("a token must not survive a metadata change")
	}
	if err := plan.NewSigner([]byte("other")).Decode("v1", &q, tok); err == nil {
		t.Error("a token signed with another secret must be refused")
	}
	other, _, _ := build(t, "Customers", "$orderby=City%20desc,Rating&$filter=Rating%20gt%202")
	if err := signer.Decode("v1", &other.Query, tok); err == nil {
		t.Error("a token must not apply to another filter")
	}
}

// TestTokensAreOneSpellingEach: a token's text is the only spelling that
// opens it. Lenient base64 would map a last character's unused bits to
// the same bytes, so a token altered there would still open; every
// character of a token is changed here and each change must be refused.
func TestTokensAreOneSpellingEach(t *testing.T) {
	p, _, _ := build(t, "Customers", "$orderby=City%20desc,Rating")
	signer := plan.NewSigner([]byte("secret"))
	skip := signer.Encode("v1", &p.Query, []any{"Lyon", 2.5, int64(7)})
	sealed := signer.Seal(map[string]int{"position": 42})
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	changed := func(tok string, i int) []string {
		var out []string
		for _, c := range alphabet {
			if byte(c) != tok[i] && tok[i] != '.' {
				out = append(out, tok[:i]+string(c)+tok[i+1:])
			}
		}
		return out
	}
	for i := range skip {
		for _, bad := range changed(skip, i) {
			q := p.Query
			if err := signer.Decode("v1", &q, bad); err == nil {
				t.Fatalf("a skiptoken changed at %d (%s) was accepted", i, bad)
			}
		}
	}
	for i := range sealed {
		for _, bad := range changed(sealed, i) {
			var v map[string]int
			if signer.Open(bad, &v) {
				t.Fatalf("a sealed token changed at %d (%s) was opened", i, bad)
			}
		}
	}
}

var benchURLs = [][2]string{
	{"Customers", "$select=City,CustomerId&$count=true&$filter=Country%20eq%20'USA'&$orderby=City&$top=26"},
	{"Customers", "$select=Name,Email,CustomerId&$count=true&$filter=contains(Name,'Acme')%20eq%20true%20or%20contains(City,'Acme')%20eq%20true&$top=25"},
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		u := benchURLs[i%len(benchURLs)]
		if _, err := uri.Parse(u[0], u[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	svc := testmodel.Service()
	reqs := make([]*uri.Request, len(benchURLs))
	for i, u := range benchURLs {
		reqs[i], _ = uri.Parse(u[0], u[1])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := plan.Build(svc, reqs[i%len(reqs)], "GET"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQueryKeyIsCanonical: equivalent requests share a cache key; any
// difference in meaning gives another.
func TestQueryKeyIsCanonical(t *testing.T) {
	key := func(query string) string {
		p, status, code := build(t, "Customers", query)
		if p == nil {
			t.Fatalf("%s: %d %s", query, status, code)
		}
		q := p.Query
		q.Limit = 27
		return plan.QueryKey(&q) + " / " + plan.CountKey(&q)
	}
	same := []string{
		"$select=Name,City&$filter=Country%20eq%20'USA'&$top=26&$count=true",
		"$count=true&$top=26&$filter=Country%20eq%20%27USA%27&$select=Name,City",
		"$select=Name,City&$filter=(Country%20eq%20'USA')&$top=26",
		"$select=Name,City,Name&$filter=Country%20%20eq%20%20'USA'&$TOP=26",
		"select=Name,City&filter=Country+eq+'USA'",
	}
	base := key(same[0])
	for _, q := range same[1:] {
		if k := key(q); k != base {
			t.Errorf("%s\n gives %s\n, not %s", q, k, base)
		}
	}
	different := []string{
		"$select=Name,City&$filter=Country%20eq%20'US'",
		"$select=Name&$filter=Country%20eq%20'USA'",
		"$select=Name,City&$filter=Country%20eq%20'USA'&$skip=1",
		"$select=Name,City&$filter=Country%20eq%20'USA'&$orderby=City",
		"$select=Name,City&$filter=Country%20ne%20'USA'",
		"$select=City,Name&$filter=Country%20eq%20'USA'",
	}
	seen := map[string]string{base: same[0]}
	for _, q := range different {
		k := key(q)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s share a key", q, prev)
		}
		seen[k] = q
	}
}
