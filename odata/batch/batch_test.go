package batch

import (
	"strings"
	"testing"
)

// TestParseJSONBatch: a JSON batch (4.01) is read part by part with its
// ids, groups and dependencies, or refused saying what is wrong with it.
func TestParseJSONBatch(t *testing.T) {
	parts, err := parseJSON([]byte(`{"requests":[
	  {"id":"1","method":"post","url":"Customers","atomicityGroup":"g","headers":{"content-type":"application/json"},"body":{"Name":"A"}},
	  {"id":"2","method":"PATCH","url":"$1","atomicityGroup":"g","dependsOn":["1"],"body":"{\"City\":\"B\"}"},
	  {"id":"3","method":"GET","url":"Customers?$top=1","body":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range parts {
		got = append(got, p.ID+" "+p.Method+" "+p.URL+" group="+p.Group+" deps="+strings.Join(p.DependsOn, ",")+" body="+string(p.Body)+" ct="+p.Header.Get("Content-Type"))
	}
	want := []string{
		`1 POST Customers group=g deps= body={"Name":"A"} ct=application/json`,
		`2 PATCH $1 group=g deps=1 body={"City":"B"} ct=`,
		`3 GET Customers?$top=1 group= deps= body= ct=`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, c := range []struct{ name, body, says string }{
		{"not JSON", `{"requests":[`, "unexpected EOF"},
		{"no id", `{"requests":[{"method":"GET","url":"Customers"}]}`, "request 1 has no id"},
		{"an id twice", `{"requests":[{"id":"a","method":"GET","url":"x"},{"id":"a","method":"GET","url":"y"}]}`, `id "a" is used twice`},
		{"no url", `{"requests":[{"id":"a","method":"GET"}]}`, "needs a method and a url"},
		{"a group split", `{"requests":[{"id":"1","method":"POST","url":"x","atomicityGroup":"g"},{"id":"2","method":"GET","url":"y"},{"id":"3","method":"POST","url":"x","atomicityGroup":"g"}]}`, `atomicity group "g" must be adjacent`},
		{"a dependency ahead", `{"requests":[{"id":"1","method":"GET","url":"x","dependsOn":["2"]},{"id":"2","method":"GET","url":"y"}]}`, `depends on "2", which does not come before it`},
		{"on itself", `{"requests":[{"id":"1","method":"GET","url":"x","dependsOn":["1"]}]}`, `depends on "1"`},
	} {
		if _, err := parseJSON([]byte(c.body)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// TestParseMultipartBatch: a multipart batch (4.0, what Salesforce sends)
// is read with its change sets as groups and its parts' request lines,
// headers and bodies; a malformed one is refused.
func TestParseMultipartBatch(t *testing.T) {
	body := strings.ReplaceAll(`--b
Content-Type: application/http
Content-Transfer-Encoding: binary

GET Customers(1)?$select=Name HTTP/1.1
Accept: application/json


--b
Content-Type: multipart/mixed; boundary=cs

--cs
Content-Type: application/http
Content-ID: 7

PATCH Customers(1) HTTP/1.1
Content-Type: application/json

{"City":"X"}
--cs
Content-Type: application/http

DELETE Orders(2) HTTP/1.1


--cs--
--b--
`, "\n", "\r\n")
	parts, err := parseMultipart([]byte(body), "b")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range parts {
		got = append(got, p.ID+" "+p.Method+" "+p.URL+" group="+p.Group+" body="+string(p.Body)+" accept="+p.Header.Get("Accept"))
	}
	want := []string{
		"part1 GET Customers(1)?$select=Name group= body= accept=application/json",
		`7 PATCH Customers(1) group=changeset1 body={"City":"X"} accept=`,
		"part3 DELETE Orders(2) group=changeset1 body= accept=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, c := range []struct{ name, body, boundary, says string }{
		{"no boundary", body, "", "needs a boundary"},
		{"a request line of one word", "--b\r\nContent-Type: application/http\r\n\r\nGET\r\n\r\n--b--\r\n", "b", "malformed request line"},
		{"an empty part", "--b\r\nContent-Type: application/http\r\n\r\n--b--\r\n", "b", "has no request line"},
	} {
		if _, err := parseMultipart([]byte(c.body), c.boundary); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// TestParseRequestLine: a part's URL is everything between the method and
// the HTTP version, spaces and all (as @odata/client writes it), never the
// text up to the first space; a line that cannot be read for sure is
// refused saying why.
func TestParseRequestLine(t *testing.T) {
	for _, c := range []struct{ line, method, url, says string }{
		{"GET Customers?$top=2 HTTP/1.1\r\n", "GET", "Customers?$top=2", ""},
		{"get Customers(1)\r\n", "GET", "Customers(1)", ""},
		{"GET accounts?$select=id&$top=2&$orderby=id desc HTTP/1.1\r\n", "GET", "accounts?$select=id&$top=2&$orderby=id desc", ""},
		{"GET Customers?$filter=Name eq 'A B' and City ne 'X' HTTP/1.1", "GET", "Customers?$filter=Name eq 'A B' and City ne 'X'", ""},
		{"GET  Customers?$orderby=Name desc   HTTP/1.1  \r\n", "GET", "Customers?$orderby=Name desc", ""},
		{"GET Customers?$search=HTTP/1.1 HTTP/1.1", "GET", "Customers?$search=HTTP/1.1", ""},
		{"PATCH Customers(1) HTTP/2\n", "PATCH", "Customers(1)", ""},
		{"GET Customers?$orderby=id desc\r\n", "", "", "spaces in its URL and no HTTP version"},
		{"GET\r\n", "", "", "needs a method and a URL"},
		{"GET HTTP/1.1", "", "", "needs a URL"},
		{"GET  HTTP/1.1", "", "", "needs a URL"},
		{"G(T Customers HTTP/1.1", "", "", "is not a method"},
		{"GET Cust\tomers HTTP/1.1", "", "", "control character"},
	} {
		method, url, err := parseRequestLine(c.line)
		switch {
		case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%q: %q %q %v, want an error saying %q", c.line, method, url, err, c.says)
		case c.says == "" && (err != nil || method != c.method || url != c.url):
			t.Errorf("%q: %q %q %v, want %q %q", c.line, method, url, err, c.method, c.url)
		}
	}
}

// FuzzRequestLine: whatever the line, the reader answers without
// panicking, and what it accepts is a method of letters and a URL without
// control characters. A line made of a method, any URL without control
// characters or surrounding spaces, and a version is read back whole:
// the URL is never cut short.
func FuzzRequestLine(f *testing.F) {
	for _, s := range []string{"accounts?$select=id&$top=2&$orderby=id desc", "Customers(1)", "a b  c", "x HTTP/1.1", "$1", "Orders?$filter=contains(Name,' ')"} {
		f.Add("GET", s, "HTTP/1.1\r\n")
	}
	f.Fuzz(func(t *testing.T, method, url, version string) {
		line := method + " " + url + " " + version
		m, u, err := parseRequestLine(line)
		if err == nil {
			if m == "" || strings.ToUpper(m) != m || u == "" || strings.ContainsAny(u, "\r\n\t\x00\x7f") {
				t.Fatalf("%q read as %q %q", line, m, u)
			}
		}
		letters := method != ""
		for _, c := range method {
			letters = letters && (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')
		}
		clean := url != "" && strings.TrimSpace(url) == url && !strings.ContainsFunc(url, func(r rune) bool { return r < 0x20 || r == 0x7f })
		if letters && clean && version == "HTTP/1.1\r\n" {
			if err != nil || m != strings.ToUpper(method) || u != url {
				t.Fatalf("%q read as %q %q (%v), want %q %q", line, m, u, err, strings.ToUpper(method), url)
			}
		}
	})
}
