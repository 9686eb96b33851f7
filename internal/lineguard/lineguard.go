// Package lineguard wraps the public listener so that requests Go's HTTP
// server would refuse with a plain-text answer of its own (a broken
// percent-encoding in the path, a request line or headers past its
// limits) reach the gateway's handler marked, to be answered with an
// OData error like every other.
package lineguard

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
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

// BadEscapeHeader carries the position of the first broken escape in the
// path. Clients cannot send it: the listener drops theirs.
const BadEscapeHeader = "X-Odatagw-Bad-Escape"

// TooLargeHeader says that the listener cut a request whose request line
// ("line N") or headers ("headers N") were larger than it accepts, so that
// the handler answers with an OData error where Go's server would send a
// plain-text 431 (a SOQL IN list of a few thousand keys makes such a
// URL). Clients cannot send it either.
const TooLargeHeader = "X-Odatagw-Too-Large"

// Limits are the largest request line and the most header bytes the
// listener passes on; the HTTP server's MaxHeaderBytes must be above
// their sum (see Total).
type Limits struct {
	Line, Headers int
}

// Total is what the HTTP server must accept for the guard's largest
// request, with room for the guard's own header.
func (l Limits) Total() int { return l.Line + l.Headers + 1<<10 }

// maxGuardedLine bounds a request line or header the listener holds while
// it reads it; the server's own limits are below it.
const maxGuardedLine = 1 << 20

// Listen wraps a listener so that requests with broken percent-
// encodings in their path, and requests too large for it, reach the
// gateway's handler (see above). A TLS connection keeps its state for the
// handler through ConnContext.
func Listen(ln net.Listener, lim Limits) net.Listener { return guardListener{ln, lim} }

type guardListener struct {
	net.Listener
	lim Limits
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, r: &escapeGuard{src: c, lim: l.lim}}, nil
}

type guardConn struct {
	net.Conn
	r *escapeGuard
}

func (c *guardConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type tlsConnKey struct{}

// TLSConn is the TLS connection a request came in on, which the HTTP
// server no longer sees behind the guard (see ConnContext).
func TLSConn(ctx context.Context) (*tls.Conn, bool) {
	tc, ok := ctx.Value(tlsConnKey{}).(*tls.Conn)
	return tc, ok
}

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

type guardState int

const (
	guardRequestLine guardState = iota
	guardHeaders
	guardBody      // remaining bytes of a Content-Length body
	guardChunkSize // a chunk-size line
	guardChunkData // remaining bytes of a chunk and its CRLF
	guardTrailer   // trailer lines after the last chunk
	guardPassThrough
	guardSkipLine    // the rest of a line too long to pass on, then headers
	guardSkipHeaders // header lines after the headers grew too large
	guardDiscard     // everything after a request cut short
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
	lim       Limits
	headers   int  // header bytes of the request being read
	cutLine   bool // the request line was cut: the headers are the guard's
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
		case guardDiscard:
			return
		case guardSkipLine:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return
			}
			b = b[i+1:]
			g.state = guardSkipHeaders
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
				if g.state == guardSkipHeaders && len(g.line) > 2 {
					g.line = g.line[:2] // all it needs: whether the line is blank
				}
				if g.tooLong(len(g.line)) {
					g.cut()
					g.state = guardSkipLine
				} else if len(g.line) > maxGuardedLine {
					g.giveUp()
				}
				return
			}
			if g.tooLong(len(g.line) + i + 1) {
				b = b[i+1:]
				g.cut()
				g.state = guardSkipHeaders
				continue
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

// tooLong reports whether a line of n bytes, in the state the framing is
// in, takes the request past what the guard passes on.
func (g *escapeGuard) tooLong(n int) bool {
	switch g.state {
	case guardRequestLine:
		return g.lim.Line > 0 && n > g.lim.Line
	case guardHeaders:
		return g.lim.Headers > 0 && g.headers+n > g.lim.Headers
	}
	return false
}

// cut replaces the request being read by a short one that carries the
// guard's header, which the handler answers with an OData error; what
// remains of the request is skipped up to the end of its headers, and
// the rest of the connection (a body the framing can no longer find) is
// dropped: the answer closes the connection.
func (g *escapeGuard) cut() {
	what := "headers " + strconv.Itoa(g.lim.Headers)
	g.cutLine = g.state == guardRequestLine
	if g.cutLine {
		what = "line " + strconv.Itoa(g.lim.Line)
		g.out = append(g.out, "GET / HTTP/1.1\r\n"...)
	}
	g.out = append(g.out, TooLargeHeader+": "+what+"\r\n"...)
	g.line = g.line[:0]
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
	case guardSkipHeaders:
		if len(text) == 0 {
			// the cut request ends here; Host is the one header the
			// server insists on, gone with the rest of a cut request line
			if g.cutLine {
				g.out = append(g.out, "Host: odatagw\r\n"...)
			}
			g.out = append(g.out, "\r\n"...)
			g.state = guardDiscard
		}
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
		g.state, g.chunked, g.length, g.upgrade, g.headers = guardHeaders, false, 0, false, 0
	case guardHeaders:
		g.headers += len(line)
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
		case bytes.EqualFold(name, []byte(BadEscapeHeader)), bytes.EqualFold(name, []byte(TooLargeHeader)):
			return // only the guard sets them
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
	out += " " + proto + "\r\n" + BadEscapeHeader + ": " + strconv.Itoa(pathPosition(path, first)) + "\r\n"
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
