// Package clientip decides who a caller is, the same way for every
// listener and every use (rate limits, credential throttles, the audit and
// access logs): the connection's address, unless that is a trusted proxy.
// Behind trusted proxies it is the rightmost address of the forwarding
// header that is not one of them: proxies append the address they were
// called from, so everything left of that is what the client wrote and
// proves nothing.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver names callers. The zero value (and nil) names the connection's
// address, trusting no header.
type Resolver struct {
	header  string
	trusted []netip.Prefix
}

// New is a Resolver reading header (X-Forwarded-For, the default, or
// X-Real-IP, ...) from the proxies whose addresses are in trusted (CIDRs
// or single addresses).
// A header without trusted proxies is refused: every client could write
// it.
func New(header string, trusted []string) (*Resolver, error) {
	r := &Resolver{header: http.CanonicalHeaderKey(strings.TrimSpace(header))}
	for _, t := range trusted {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		p, err := netip.ParsePrefix(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q: write an address or a CIDR such as 10.0.0.0/8", t)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	if r.header == "" && len(r.trusted) > 0 {
		r.header = "X-Forwarded-For" // what proxies write unless told otherwise
	}
	if r.header != "" && len(r.trusted) == 0 {
		return nil, fmt.Errorf("client_ip_header %s needs trusted_proxies (--trusted-proxies): the addresses of the proxies that set it; any client could write the header itself", r.header)
	}
	return r, nil
}

// Of is the caller of req.
func (r *Resolver) Of(req *http.Request) string {
	peer := host(req.RemoteAddr)
	if r == nil || r.header == "" || !r.isTrusted(peer) {
		return peer
	}
	// every value of the header, in order: a proxy may add its own line
	var hops []string
	for _, v := range req.Header.Values(r.header) {
		hops = append(hops, strings.Split(v, ",")...)
	}
	caller := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := host(strings.TrimSpace(hops[i]))
		if hop == "" {
			continue
		}
		caller = hop
		if !r.isTrusted(hop) {
			return hop
		}
	}
	return caller // every hop a trusted proxy: the farthest one
}

func (r *Resolver) isTrusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// host is an address without its port or brackets, as given otherwise.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.Trim(addr, "[]")
}
