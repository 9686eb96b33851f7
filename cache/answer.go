package cache

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"
	"sync/atomic"
)

// HoleKind is what an answer leaves out of its body because it differs
// from one request to the next.
type HoleKind uint8

const (
	// HoleRoot is the service root (JSON-escaped): it follows the request's
	// Host unless a public URL is set, and two requests may come in by two
	// names.
	HoleRoot HoleKind = iota
	// HoleOptions is the request's own query options, as the client wrote
	// them, that a nextLink repeats: two spellings of one query share the
	// answer, and each gets its own options back.
	HoleOptions
)

// Hole is where a per-request part goes: before the body's byte At.
type Hole struct {
	At   int
	Kind HoleKind
}

// Fill is the per-request text of each kind of hole, indexed by HoleKind.
type Fill [2]string

// Answer is a response as it is sent, kept by the cache: its headers that
// are the same for every request, and its encoded body with holes where
// the per-request parts go. Its size is its length.
type Answer struct {
	Status      int // 0: 200 OK
	ContentType string
	// ETag is the answer's ETag header; with BodyETag it is made from the
	// body as sent (which holds the root) for each request instead.
	ETag     string
	BodyETag bool
	Applied  string // Preference-Applied
	Rows     int    // entities it holds, for the metrics
	// Shape is the request's shape (shapes.Shape), so that an answer from
	// the cache counts where the query it saved would have
	Shape any
	Body  []byte
	Holes []Hole

	ctHeader []string // ContentType as net/http keeps a header, made once
	gz       atomic.Pointer[gzipped]
	count    func(int64) // set once kept: counts a compressed copy against the bound
	mu       sync.Mutex  // one compression at a time
}

type gzipped struct {
	fill Fill
	b    []byte
}

// ContentTypeHeader is the Content-Type header's value as net/http keeps
// it, made once and shared by every request the answer is sent to (a
// header's slice is only read).
func (a *Answer) ContentTypeHeader() []string {
	if a.ctHeader == nil {
		return []string{a.ContentType}
	}
	return a.ctHeader
}

// Seal readies a kept answer for being sent many times at once.
func (a *Answer) Seal() { a.ctHeader = []string{a.ContentType} }

// size is what the answer holds.
func (a *Answer) size() int64 {
	n := int64(cap(a.Body)) + int64(cap(a.Holes))*16 + int64(len(a.ContentType)+len(a.ETag)+len(a.Applied))
	if g := a.gz.Load(); g != nil {
		n += int64(cap(g.b))
	}
	return n
}

// Len is the length of the body as sent with f.
func (a *Answer) Len(f *Fill) int {
	n := len(a.Body)
	for _, h := range a.Holes {
		n += len(f[h.Kind])
	}
	return n
}

// WriteTo writes the body with f in its holes.
func (a *Answer) WriteTo(w io.Writer, f *Fill) error {
	at := 0
	for _, h := range a.Holes {
		if _, err := w.Write(a.Body[at:h.At]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, f[h.Kind]); err != nil {
			return err
		}
		at = h.At
	}
	_, err := w.Write(a.Body[at:])
	return err
}

// AppendTo appends the body with f in its holes.
func (a *Answer) AppendTo(b []byte, f *Fill) []byte {
	at := 0
	for _, h := range a.Holes {
		b = append(b, a.Body[at:h.At]...)
		b = append(b, f[h.Kind]...)
		at = h.At
	}
	return append(b, a.Body[at:]...)
}

// MinGzip is the smallest body worth compressing.
const MinGzip = 512

// Gzipped is the body with f in its holes, compressed with gzip. The first
// fill asked for is compressed once and kept with the answer (counted
// against the cache's bound); behind one public URL every request has that
// fill. Another fill is compressed for its request alone.
func (a *Answer) Gzipped(f *Fill) []byte {
	if g := a.gz.Load(); g != nil && g.fill == *f {
		return g.b
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if g := a.gz.Load(); g != nil {
		if g.fill == *f {
			return g.b
		}
		return compress(a.AppendTo(nil, f))
	}
	g := &gzipped{fill: *f, b: compress(a.AppendTo(nil, f))}
	a.gz.Store(g)
	if a.count != nil {
		a.count(int64(cap(g.b)))
	}
	return g.b
}

// compressors are reused: a gzip writer holds most of a megabyte.
var compressors = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}}

func compress(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body)/4 + 64)
	zw := compressors.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(body)
	zw.Close()
	zw.Reset(nil)
	compressors.Put(zw)
	return bytes.Clone(buf.Bytes()) // exactly its length: it is kept
}
