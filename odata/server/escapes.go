package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/odata"
)

// Go's HTTP server refuses a request whose path holds a broken
// percent-encoding (Customers('%zz')) with a plain-text 400 of its own,
// before any handler runs. To answer such a request with an OData error
// body like every other, the gateway's listener reads each request line
// first: a '%' that starts no escape becomes %25, and a header of the
// gateway's own says where the first one stood, so that the handler can
// refuse the request as the client wrote it. Only request lines and
// headers are looked at; bodies pass through, framed by Content-Length or
// chunked encoding. Anything unexpected (HTTP/2, an upgrade, a line past
// the header limit) turns the reading off for the rest of the connection.

// badEscapeHeader carries the position of the first broken escape in the
// path. Clients cannot send it: the listener drops theirs.
const badEscapeHeader = "X-Odatagw-Bad-Escape"

// maxGuardedLine bounds a request line or header the listener holds while
// it reads it; the server's own limits are below it.
const maxGuardedLine = 1 << 20

// GuardEscapes wraps a listener so that requests with broken percent-
// encodings in their path reach the gateway's handler (see above). A TLS
// connection keeps its state for the handler through ConnContext.
func GuardEscapes(ln net.Listener) net.Listener { return guardListener{ln} }

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, r: &escapeGuard{src: c}}, nil
}

type guardConn struct {
	net.Conn
	r *escapeGuard
}

func (c *guardConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type tlsConnKey struct{}

// ConnContext is http.Server.ConnContext for a guarded listener: it keeps
// a TLS connection where the handler can find its state, which the HTTP
// server no longer sees behind the guard.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardConn); ok {
		if tc, ok := g.Conn.(*tls.Conn); ok {
			return context.WithValue(ctx, tlsConnKey{}, tc)
		}
	}
	return ctx
}

// guardedRequest restores what the guard hid from the HTTP server (the
// TLS state) and refuses a path with a broken escape as an OData error.
func (s *Server) guardedRequest(c *gin.Context) {
	r := c.Request
	if r.TLS == nil {
		if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
			st := tc.ConnectionState()
			r.TLS = &st
		}
	}
	if at := r.Header.Get(badEscapeHeader); at != "" {
		pos, _ := strconv.Atoi(at)
		writeError(c.Writer, r, s.log, odata.SyntaxError("path", pos,
			"malformed percent-encoding: '%%' must be followed by two hexadecimal digits (write %%25 for a percent sign)"))
		c.Abort()
		return
	}
	c.Next()
}

type guardState int

const (
	guardRequestLine guardState = iota
	guardHeaders
	guardBody      // remaining bytes of a Content-Length body
	guardChunkSize // a chunk-size line
	guardChunkData // remaining bytes of a chunk and its CRLF
	guardTrailer   // trailer lines after the last chunk
	guardPassThrough
)

// escapeGuard is the reading side of a guarded connection.
type escapeGuard struct {
	src       io.Reader
	state     guardState
	line      []byte // the line being read
	out       []byte // bytes ready for the server
	remaining int64
	chunked   bool
	length    int64
	upgrade   bool
	buf       [4 << 10]byte
}

func (g *escapeGuard) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		n, err := g.src.Read(g.buf[:])
		g.feed(g.buf[:n])
		if len(g.out) == 0 && err != nil {
			if err == io.EOF && len(g.line) > 0 {
				g.out, g.line = g.line, nil // an unfinished line: the server judges it
				break
			}
			return 0, err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	if len(g.out) == 0 {
		g.out = nil
	}
	return n, nil
}

// feed runs bytes from the connection through the framing.
func (g *escapeGuard) feed(b []byte) {
	for len(b) > 0 {
		switch g.state {
		case guardPassThrough:
			g.out = append(g.out, b...)
			return
		case guardBody, guardChunkData:
			n := int64(len(b))
			if n > g.remaining {
				n = g.remaining
			}
			g.out = append(g.out, b[:n]...)
			b = b[n:]
			if g.remaining -= n; g.remaining == 0 {
				if g.state == guardBody {
					g.state = guardRequestLine
				} else {
					g.state = guardChunkSize
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				g.line = append(g.line, b...)
				if len(g.line) > maxGuardedLine {
					g.giveUp()
				}
				return
			}
			g.line = append(g.line, b[:i+1]...)
			b = b[i+1:]
			line := g.line
			g.line = nil
			g.takeLine(line)
		}
	}
}

// giveUp stops reading the framing: what is held goes out as it came.
func (g *escapeGuard) giveUp() {
	g.out = append(g.out, g.line...)
	g.line = nil
	g.state = guardPassThrough
}

// takeLine handles one whole line (with its line ending) in the state the
// framing is in.
func (g *escapeGuard) takeLine(line []byte) {
	text := strings.TrimRight(string(line), "\r\n")
	switch g.state {
	case guardRequestLine:
		if text == "" {
			g.out = append(g.out, line...) // a blank line before a request is allowed
			return
		}
		if strings.HasPrefix(text, "PRI * HTTP/2") {
			g.out = append(g.out, line...)
			g.state = guardPassThrough
			return
		}
		g.out = append(g.out, requestLine(text, line)...)
		g.state, g.chunked, g.length, g.upgrade = guardHeaders, false, 0, false
	case guardHeaders:
		if text == "" {
			g.out = append(g.out, line...)
			g.endOfHeaders()
			return
		}
		name, value, _ := strings.Cut(text, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, badEscapeHeader):
			return // only the guard sets it
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				g.out = append(g.out, line...)
				g.state = guardPassThrough // the server refuses it; nothing more to frame
				return
			}
			g.length = n
		case strings.EqualFold(name, "Transfer-Encoding"):
			g.chunked = strings.Contains(strings.ToLower(value), "chunked")
		case strings.EqualFold(name, "Upgrade"):
			g.upgrade = true
		}
		g.out = append(g.out, line...)
	case guardChunkSize:
		g.out = append(g.out, line...)
		size, _, _ := strings.Cut(text, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		switch {
		case err != nil || n < 0:
			g.state = guardPassThrough
		case n == 0:
			g.state = guardTrailer
		default:
			g.state, g.remaining = guardChunkData, n+2 // the data and its CRLF
		}
	case guardTrailer:
		g.out = append(g.out, line...)
		if text == "" {
			g.state = guardRequestLine
		}
	}
}

func (g *escapeGuard) endOfHeaders() {
	switch {
	case g.upgrade:
		g.state = guardPassThrough
	case g.chunked:
		g.state = guardChunkSize
	case g.length > 0:
		g.state, g.remaining = guardBody, g.length
	default:
		g.state = guardRequestLine
	}
}

// requestLine returns a request line with each '%' of its path that starts
// no escape written as %25, followed by the guard's header saying where
// the first stood; a line without one comes back as it was.
func requestLine(text string, line []byte) []byte {
	method, rest, ok1 := strings.Cut(text, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return line
	}
	path, query, hasQuery := strings.Cut(target, "?")
	first := -1
	var fixed strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && !(i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2])) {
			if first < 0 {
				first = i
			}
			fixed.WriteString("%25")
			continue
		}
		fixed.WriteByte(path[i])
	}
	if first < 0 {
		return line
	}
	out := method + " " + fixed.String()
	if hasQuery {
		out += "?" + query
	}
	out += " " + proto + "\r\n" + badEscapeHeader + ": " + strconv.Itoa(pathPosition(path, first)) + "\r\n"
	return []byte(out)
}

// pathPosition is where the broken escape stands below the service root
// (/odata/{source}/), as the path errors of the parser count.
func pathPosition(path string, at int) int {
	if rest, ok := strings.CutPrefix(path, "/odata/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 && len("/odata/")+i < at {
			return at - len("/odata/") - i - 1
		}
	}
	return at
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
