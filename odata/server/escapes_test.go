package server

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
		{"a client's own guard header is dropped",
			"GET /odata/demo/Customers HTTP/1.1\r\nX-Odatagw-Bad-Escape: 3\r\nHost: x\r\n\r\n",
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
	for _, c := range cases {
		for _, how := range []struct {
			name string
			r    func(io.Reader) io.Reader
		}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte by byte", iotest.OneByteReader}} {
			got, err := io.ReadAll(&escapeGuard{src: how.r(strings.NewReader(c.in))})
			if err != nil || string(got) != c.want {
				t.Errorf("%s (%s):\n got %q %v\nwant %q", c.name, how.name, got, err, c.want)
			}
		}
	}
}
