package clientip

import (
	"net/http"
	"strings"
	"testing"
)

// TestCaller: who the caller is, for the ways requests arrive.
func TestCaller(t *testing.T) {
	trusted := []string{"10.0.0.0/8", "192.168.1.5", "fd00::/8"}
	cases := []struct {
		name   string
		header string   // the resolver's header ("" for none)
		peer   string   // the connection's address
		values []string // the header as it came
		want   string
	}{
		{"no header configured: the connection", "", "203.0.113.9:4431", []string{"198.51.100.1"}, "203.0.113.9"},
		{"an untrusted peer's header is ignored", "X-Forwarded-For", "203.0.113.9:4431", []string{"198.51.100.1"}, "203.0.113.9"},
		{"behind one proxy: the address it appended", "X-Forwarded-For", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged address on the left is skipped", "X-Forwarded-For", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "X-Forwarded-For", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 192.168.1.5"}, "198.51.100.1"},
		{"a proxy adding its own line", "X-Forwarded-For", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"every hop trusted: the farthest", "X-Forwarded-For", "10.1.2.3:80", []string{"10.9.9.9, 192.168.1.5"}, "10.9.9.9"},
		{"no header from a trusted proxy: the proxy", "X-Forwarded-For", "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 hops with ports and brackets", "X-Forwarded-For", "[fd00::1]:443", []string{"[2001:db8::7]:5555"}, "2001:db8::7"},
		{"an IPv4-mapped trusted peer", "X-Forwarded-For", "[::ffff:10.1.2.3]:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"X-Real-IP", "x-real-ip", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, c := range cases {
		var r *Resolver
		if c.header != "" {
			var err error
			if r, err = New(c.header, trusted); err != nil {
				t.Fatal(err)
			}
		}
		req := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		for _, v := range c.values {
			req.Header.Add(c.header, v)
		}
		if got := r.Of(req); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		header  string
		trusted []string
		want    string
	}{
		{"X-Forwarded-For", nil, "needs trusted_proxies"},
		{"X-Forwarded-For", []string{"not-an-address"}, `trusted proxy "not-an-address"`},
	} {
		if _, err := New(c.header, c.trusted); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v", c.header, c.trusted, err)
		}
	}
	r, err := New("", []string{"10.0.0.0/8"})
	req := &http.Request{RemoteAddr: "10.0.0.1:80", Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
	if err != nil || r.Of(req) != "198.51.100.1" {
		t.Errorf("trusted proxies alone read X-Forwarded-For: %v %q", err, r.Of(req))
	}
}
