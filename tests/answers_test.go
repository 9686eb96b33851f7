package tests

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// answerVariants are the ways one request is asked: versions, metadata
// levels, IEEE754Compatible, $format, gzip, a page size that makes a
// nextLink out of the request's own options.
var answerVariants = []struct {
	name    string
	query   string // appended to the URL's options
	headers []string
}{
	{name: "plain"},
	{name: "4.01", headers: []string{"OData-MaxVersion", "4.01"}},
	{name: "4.0 asked", headers: []string{"OData-Version", "4.0", "OData-MaxVersion", "4.0"}},
	{name: "full metadata", headers: []string{"Accept", "application/json;odata.metadata=full"}},
	{name: "no metadata, IEEE754", headers: []string{"Accept", "application/json;odata.metadata=none;IEEE754Compatible=true"}},
	{name: "$format full", query: "$format=application/json;odata.metadata=full"},
	{name: "gzip", headers: []string{"Accept-Encoding", "gzip"}},
	{name: "gzip, full metadata, 4.01", headers: []string{"Accept-Encoding", "gzip, deflate", "Accept", "application/json;odata.metadata=full", "OData-MaxVersion", "4.01"}},
	{name: "small pages", headers: []string{"Prefer", "odata.maxpagesize=7"}},
}

// answerURLs are the catalogue's reads and the record pages, properties
// and counts Salesforce also asks for.
func answerURLs() []string {
	var urls []string
	for _, sc := range catalogue {
		if sc.only == "" || sc.only == "postgres" {
			urls = append(urls, sc.url)
		}
	}
	return append(urls,
		"Customers(42)", "Customers(42)?$select=Name,City", "OrderLines(OrderId=10248,ProductId=11)",
		"Customers(42)/Name", "Customers(42)/Name/$value", "Customers(42)/Email", "Customers/$count",
		"Customers?$filter=Country eq 'USA'&$orderby=City desc,Name&$select=Name,City&$top=40",
		"Customers(999999)", "NoSuchSet")
}

// rawClient leaves Accept-Encoding and gzip to the test.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// answerOf asks url with headers (and a Host, when given) and returns the
// status, the headers an answer must agree on, and the body, unzipped.
func answerOf(t *testing.T, url, host string, headers []string) (status int, head string, body []byte, cache string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if host != "" {
		req.Host = host
	}
	res, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err = io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	for _, h := range []string{"Content-Type", "OData-Version", "ETag", "Preference-Applied"} {
		head += h + ": " + res.Header.Get(h) + "\n"
	}
	return res.StatusCode, head, body, res.Header.Get("X-Cache")
}

// TestCachedAnswersAreByteForByte: every read of the catalogue, in every
// variant, is answered by a caching gateway (a miss, then a hit) with the
// very bytes a gateway without a cache sends: behind a public URL, and
// reached by two Host names, each of which gets its own root back from the
// same cached answer.
func TestCachedAnswersAreByteForByte(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	source := func(cached bool) map[string]config.Source {
		src := config.Source{DSN: db.DSN, Keys: map[string][]string{"customer_summary": {"customer_id"}}}
		if !cached {
			off := config.Duration(0)
			src.CacheTTL = &off
		}
		return erpSource(src)
	}
	for _, tc := range []struct {
		name      string
		publicURL string
		hosts     []string
	}{
		{"behind a public URL", "https://odata.example.com/sf", []string{""}},
		{"two Hosts", "", []string{"a.example:8443", "b.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := "one secret for both, so that their skiptokens agree"
			cached := startGateway(t, app.Settings{PublicURL: tc.publicURL, SkipTokenSecret: secret, Sources: source(true)})
			plain := startGateway(t, app.Settings{PublicURL: tc.publicURL, SkipTokenSecret: secret, Sources: source(false)})
			hits := 0
			for _, u := range answerURLs() {
				for _, v := range answerVariants {
					path := encodeQuery(u)
					if v.query != "" {
						sep := "?"
						if strings.Contains(path, "?") {
							sep = "&"
						}
						path += sep + encodeQuery("?" + v.query)[1:]
					}
					for _, host := range tc.hosts {
						ws, wh, wb, _ := answerOf(t, plain.root("erp")+path, host, v.headers)
						for i := range 2 {
							gs, gh, gb, x := answerOf(t, cached.root("erp")+path, host, v.headers)
							if x == "hit" {
								hits++
							}
							if gs != ws || (ws == 200 && (gh != wh || !bytes.Equal(gb, wb))) {
								t.Fatalf("%s (%s, host %q), request %d (X-Cache %s):\ncached:   %d\n%s%s\nuncached: %d\n%s%s",
									u, v.name, host, i+1, x, gs, gh, gb, ws, wh, wb)
							}
						}
					}
				}
			}
			if hits < len(answerURLs())*len(answerVariants)/2 {
				t.Fatalf("only %d hits: the cache was hardly asked", hits)
			}
			t.Logf("%d hits compared", hits)
		})
	}
}
