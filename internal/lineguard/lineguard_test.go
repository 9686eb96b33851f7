package lineguard

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEscapeGuard: what the server reads from a guarded connection, for
// request streams as clients send them; bodies pass through untouched,
// whatever they hold.
func TestEscapeGuard(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a clean request is unchanged",
			"GET /odata/demo/Customers(1) HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /odata/demo/Customers(1) HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"a broken escape in the path",
			"GET /odata/demo/Customers('%zz') HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /odata/demo/Customers('%25zz') HTTP/1.1\r\nX-Odatagw-Bad-Escape: 11\r\nHost: x\r\n\r\n"},
		{"a '%' at the end, and a good escape beside it",
			"GET /odata/demo/Tags('a%2Fb%') HTTP/1.1\r\n\r\n",
			"GET /odata/demo/Tags('a%2Fb%25') HTTP/1.1\r\nX-Odatagw-Bad-Escape: 11\r\n\r\n"},
		{"the query is the handler's to judge",
			"GET /odata/demo/Customers?$filter=Name%20eq%20'%zz' HTTP/1.1\r\n\r\n",
			"GET /odata/demo/Customers?$filter=Name%20eq%20'%zz' HTTP/1.1\r\n\r\n"},
		{"a client's own guard headers are dropped",
			"GET /odata/demo/Customers HTTP/1.1\r\nX-Odatagw-Bad-Escape: 3\r\nx-odatagw-too-large: line 1\r\nHost: x\r\n\r\n",
			"GET /odata/demo/Customers HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"a body that looks like a request line passes through",
			"POST /odata/demo/$batch HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /odata/demo/% HTTP\r\nGET /odata/demo/% HTTP/1.1\r\n\r\n",
			"POST /odata/demo/$batch HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /odata/demo/% HTTP\r\nGET /odata/demo/%25 HTTP/1.1\r\nX-Odatagw-Bad-Escape: 0\r\n\r\n"},
		{"a chunked body, then the next request",
			"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET %\r\n0\r\nX-Trailer: 1\r\n\r\nGET /b% HTTP/1.1\r\n\r\n",
			"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET %\r\n0\r\nX-Trailer: 1\r\n\r\nGET /b%25 HTTP/1.1\r\nX-Odatagw-Bad-Escape: 2\r\n\r\n"},
		{"HTTP/2 is left alone",
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /% HTTP/1.1\r\n",
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /% HTTP/1.1\r\n"},
		{"an unfinished line is handed on as it is",
			"GET /odata/de%",
			"GET /odata/de%"},
	}
	// with limits of 40 bytes of request line and 30 of headers
	long := "GET /odata/demo/Customers?$filter=" + strings.Repeat("x", 40) + " HTTP/1.1\r\n"
	cases = append(cases, []struct{ name, in, want string }{
		{"a request line past the limit is cut, its headers and the rest dropped",
			long + "Host: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
			"GET / HTTP/1.1\r\nX-Odatagw-Too-Large: line 40\r\nHost: odatagw\r\n\r\n"},
		{"headers past the limit are cut after the last that fits",
			"GET /a HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 30) + "\r\nX-B: b\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			"GET /a HTTP/1.1\r\nHost: x\r\nX-Odatagw-Too-Large: headers 30\r\n\r\n"},
		{"a request within the limits is unchanged",
			"GET /odata/demo/Customers HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /odata/demo/Customers HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"a client's own too-large header is passed on only as the guard writes it",
			long + "X-Odatagw-Too-Large: 1\r\n\r\n",
			"GET / HTTP/1.1\r\nX-Odatagw-Too-Large: line 40\r\nHost: odatagw\r\n\r\n"},
	}...)
	for _, c := range cases {
		for _, how := range []struct {
			name string
			r    func(io.Reader) io.Reader
		}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte by byte", iotest.OneByteReader}} {
			g := &escapeGuard{src: how.r(strings.NewReader(c.in))}
			if strings.Contains(c.in, "xxxxx") || strings.Contains(c.in, "aaaaa") || strings.Contains(c.name, "within the limits") {
				g.lim = Limits{Line: 40, Headers: 30}
			}
			got, err := io.ReadAll(g)
			if err != nil || string(got) != c.want {
				t.Errorf("%s (%s):\n got %q %v\nwant %q", c.name, how.name, got, err, c.want)
			}
		}
	}
}
