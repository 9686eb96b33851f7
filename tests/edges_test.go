package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMetadataVersions: $metadata as each kind of client asks for it.
// OData 4.0 defines CSDL as XML only; a client that names no maximum
// version gets 4.0, which every 4.x client reads.
func TestMetadataVersions(t *testing.T) {
	cases := []struct {
		name     string
		url      string
		headers  []string
		wantJSON bool
		version  string // OData-Version of the answer and of the document
	}{
		{"Salesforce 4.0 adapter", "$metadata", []string{"Accept", "application/xml", "OData-MaxVersion", "4.0"}, false, "4.0"},
		{"Salesforce 4.01 adapter", "$metadata", []string{"Accept", "application/xml", "OData-MaxVersion", "4.01"}, false, "4.01"},
		{"a 4.0 client asking for JSON", "$metadata", []string{"Accept", "application/json", "OData-MaxVersion", "4.0"}, false, "4.0"},
		{"a 4.01 client asking for JSON", "$metadata", []string{"Accept", "application/json", "OData-MaxVersion", "4.01"}, true, "4.01"},
		{"no maximum named", "$metadata", nil, false, "4.0"},
		{"no maximum, JSON accepted", "$metadata", []string{"Accept", "application/json"}, false, "4.0"},
		{"no maximum, a 4.01 request", "$metadata", []string{"OData-Version", "4.01"}, false, "4.01"},
		{"explicit $format=json", "$metadata?$format=json", nil, true, "4.01"},
	}
	for _, tg := range targets(t) {
		for _, c := range cases {
			r := tg.get(t, c.url, c.headers...)
			if r.Status != 200 {
				t.Fatalf("%s/%s: %d %s", tg.name, c.name, r.Status, r.Body)
			}
			isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
			var docVersion string
			if isJSON {
				var doc struct {
					Version string `json:"$Version"`
				}
				json.Unmarshal(r.Body, &doc)
				docVersion = doc.Version
			} else if i := strings.Index(string(r.Body), `Version="`); i >= 0 {
				docVersion = strings.SplitN(string(r.Body)[i+len(`Version="`):], `"`, 2)[0]
			}
			if isJSON != c.wantJSON || r.Header.Get("OData-Version") != c.version || docVersion != c.version {
				t.Errorf("%s/%s: JSON %v, OData-Version %q, document version %q; want JSON %v and %s",
					tg.name, c.name, isJSON, r.Header.Get("OData-Version"), docVersion, c.wantJSON, c.version)
			}
		}
	}
}

// TestSearchWithoutText: Salesforce searches every searchable object of a
// source at once; a set without text properties answers no rows rather
// than failing the whole search.
func TestSearchWithoutText(t *testing.T) {
	for _, tg := range targets(t) {
		r := tg.get(t, "OrderLines?$search=Acme&$count=true&$top=5")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", tg.name, r.Status, r.Body)
		}
		body := r.JSON(t)
		if n := len(body["value"].([]any)); n != 0 || body["@odata.count"] != json.Number("0") {
			t.Errorf("%s: %d rows, count %v; want none", tg.name, n, body["@odata.count"])
		}
		if c := tg.get(t, "OrderLines/$count?$search=Acme"); c.Status != 200 || string(c.Body) != "0" {
			t.Errorf("%s: $count: %d %s", tg.name, c.Status, c.Body)
		}
	}
}

// TestBrokenPercentEncoding: a path with a '%' that starts no escape is
// refused with an OData error body, like every other malformed URL, not
// with the HTTP server's plain text.
func TestBrokenPercentEncoding(t *testing.T) {
	u, _ := url.Parse(demoTarget.root)
	for _, path := range []string{"Customers('%zz')", "Customers(42)/Na%me", "Cust%omers", "Customers('50%')"} {
		res, body := rawGet(t, u.Host, u.Path+path)
		var e struct {
			Error struct{ Code, Message, Target string }
		}
		if res.StatusCode != 400 || json.Unmarshal(body, &e) != nil || e.Error.Code != "SyntaxError" || !strings.Contains(e.Error.Message, "percent-encoding") {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	// a well-formed request on the same kind of connection still works
	if res, body := rawGet(t, u.Host, u.Path+"Customers(1)?$select=Name"); res.StatusCode != 200 {
		t.Errorf("a clean request: %d %s", res.StatusCode, body)
	}
}

// TestNumberSuffixes: SAP's Cloud SDK and other OData 2.0 habits write a
// number's type after it; the gateway reads the number.
func TestNumberSuffixes(t *testing.T) {
	for _, tg := range targets(t) {
		for _, u := range []string{"Customers(42L)?$select=CustomerId", "Customers(CustomerId=42L)?$select=CustomerId",
			"Customers?$select=CustomerId&$filter=CustomerId eq 42L and CustomerId lt 42.5D and CustomerId gt 41.5M"} {
			r := tg.get(t, u)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"CustomerId":42`) {
				t.Errorf("%s/%s: %d %s", tg.name, u, r.Status, r.Body)
			}
		}
	}
}

// TestOversizedRequests: a URL or headers too large for the gateway get
// an OData error with the status that says what was too large, at every
// size (a SOQL IN list of a few thousand keys makes such a URL); before,
// past the header limit, Go's server answered a plain-text 431.
func TestOversizedRequests(t *testing.T) {
	u, _ := url.Parse(demoTarget.root)
	send := func(t *testing.T, target string, extra string) (*http.Response, []byte) {
		t.Helper()
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nOData-MaxVersion: 4.01\r\n%s\r\n", target, u.Host, extra)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(target), err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	literal := func(n int) string {
		return u.Path + "Customers?$select=CustomerId&$filter=Name%20eq%20'" + strings.Repeat("x", n) + "'"
	}
	cases := []struct {
		name   string
		target string
		extra  string
		status int
	}{
		{"a URL of 60 KB", literal(60 << 10), "", 200},
		{"a URL just past the parser's limit", literal(64<<10 + 100), "", 414},
		{"a URL past the listener's limit", literal(70 << 10), "", 414},
		{"a URL of 200 KB", literal(200 << 10), "", 414},
		{"a URL of 2 MB", literal(2 << 20), "", 414},
		{"a header of 70 KB", u.Path + "Customers(1)", "X-Big: " + strings.Repeat("h", 70<<10) + "\r\n", 431},
		{"many headers, 80 KB in all", u.Path + "Customers(1)", strings.Repeat("X-Many: "+strings.Repeat("m", 1000)+"\r\n", 80), 431},
		{"headers of 60 KB", u.Path + "Customers(1)", strings.Repeat("X-Many: "+strings.Repeat("m", 1000)+"\r\n", 60), 200},
	}
	for _, c := range cases {
		res, body := send(t, c.target, c.extra)
		var e struct {
			Error struct{ Code, Message string }
		}
		switch {
		case res.StatusCode != c.status:
			t.Errorf("%s: %d, want %d: %.300s", c.name, res.StatusCode, c.status, body)
		case c.status != 200 && (json.Unmarshal(body, &e) != nil || e.Error.Code != "LimitExceeded" || e.Error.Message == ""):
			t.Errorf("%s: not an OData error: %s %.300s", c.name, res.Header.Get("Content-Type"), body)
		case c.status == 414 && !strings.Contains(e.Error.Message, "URL is longer than"):
			t.Errorf("%s: %s", c.name, e.Error.Message)
		case c.status == 431 && !strings.Contains(e.Error.Message, "headers are larger than"):
			t.Errorf("%s: %s", c.name, e.Error.Message)
		}
	}
	// the gateway serves on as before
	if res, body := rawGet(t, u.Host, u.Path+"Customers(1)?$select=Name"); res.StatusCode != 200 {
		t.Errorf("after the oversized requests: %d %s", res.StatusCode, body)
	}
}

// TestPublicPortNamesNoSource: the public port's index and its answer for
// an unknown source name no source, as its /readyz names none: which
// sources exist is for the admin listener to say.
func TestPublicPortNamesNoSource(t *testing.T) {
	base := strings.TrimSuffix(demoTarget.root, "/odata/demo/")
	for _, path := range []string{"/", "/odata/nope/", "/odata/nope/Customers", "/readyz"} {
		r := do(t, "GET", base+path, nil)
		if strings.Contains(string(r.Body), "demo") {
			t.Errorf("GET %s names the source: %d %s", path, r.Status, r.Body)
		}
	}
	if r := do(t, "GET", base+"/odata/nope/", nil); r.Status != 404 || !strings.Contains(string(r.Body), `no data source named \"nope\"`) {
		t.Errorf("an unknown source: %d %s", r.Status, r.Body)
	}
}
