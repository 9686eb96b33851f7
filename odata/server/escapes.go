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
	line      []byte // the line being read (its buffer kept for the next)
	out       []byte // bytes ready for the server, from sent on
	sent      int
	remaining int64
	chunked   bool
	length    int64
	upgrade   bool
	buf       [4 << 10]byte
}

func (g *escapeGuard) Read(p []byte) (int, error) {
	for g.sent == len(g.out) {
		g.out, g.sent = g.out[:0], 0 // all sent: the buffer is free again
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
	n := copy(p, g.out[g.sent:])
	g.sent += n
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
			// a line that came whole is taken where it lies; only one
			// split between two reads is gathered first
			line := b[:i+1]
			if len(g.line) > 0 {
				g.line = append(g.line, line...)
				line = g.line
			}
			b = b[i+1:]
			g.takeLine(line) // copies what it keeps
			g.line = g.line[:0]
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
// Header lines are looked at as bytes: every request passes through here,
// and a string per line was most of the guard's cost.
func (g *escapeGuard) takeLine(line []byte) {
	text := bytes.TrimRight(line, "\r\n")
	switch g.state {
	case guardRequestLine:
		if len(text) == 0 {
			g.out = append(g.out, line...) // a blank line before a request is allowed
			return
		}
		if bytes.HasPrefix(text, []byte("PRI * HTTP/2")) {
			g.out = append(g.out, line...)
			g.state = guardPassThrough
			return
		}
		g.out = append(g.out, requestLine(text, line)...)
		g.state, g.chunked, g.length, g.upgrade = guardHeaders, false, 0, false
	case guardHeaders:
		if len(text) == 0 {
			g.out = append(g.out, line...)
			g.endOfHeaders()
			return
		}
		if c := text[0] | 0x20; c != 'x' && c != 'c' && c != 't' && c != 'u' {
			g.out = append(g.out, line...) // no header the framing needs
			return
		}
		name, value, _ := bytes.Cut(text, []byte(":"))
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte(badEscapeHeader)):
			return // only the guard sets it
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				g.out = append(g.out, line...)
				g.state = guardPassThrough // the server refuses it; nothing more to frame
				return
			}
			g.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			g.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Upgrade")):
			g.upgrade = true
		}
		g.out = append(g.out, line...)
	case guardChunkSize:
		g.out = append(g.out, line...)
		size, _, _ := bytes.Cut(text, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
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
		if len(text) == 0 {
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
func requestLine(raw, line []byte) []byte {
	if firstBadEscape(raw) < 0 {
		return line // nearly every request: nothing to write anew
	}
	text := string(raw)
	method, rest, ok1 := strings.Cut(text, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return line
	}
	path, query, hasQuery := strings.Cut(target, "?")
	first := firstBadEscape([]byte(path))
	if first < 0 {
		return line
	}
	var fixed strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && !(i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2])) {
			fixed.WriteString("%25")
			continue
		}
		fixed.WriteByte(path[i])
	}
	out := method + " " + fixed.String()
	if hasQuery {
		out += "?" + query
	}
	out += " " + proto + "\r\n" + badEscapeHeader + ": " + strconv.Itoa(pathPosition(path, first)) + "\r\n"
	return []byte(out)
}

// firstBadEscape is where the first '%' of b that starts no escape stands,
// or -1.
func firstBadEscape(b []byte) int {
	for i := bytes.IndexByte(b, '%'); i >= 0; {
		if !(i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2])) {
			return i
		}
		next := bytes.IndexByte(b[i+1:], '%')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return -1
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
