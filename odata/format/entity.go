package format

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

// ImplicitTypes are the Edm types a JSON reader infers from the value
// itself; full metadata annotates every other type.
var ImplicitTypes = map[metadata.Type]bool{metadata.String: true, metadata.Boolean: true,
	metadata.Int32: true, metadata.Double: true}

// EntityWriter writes entities of one set: the chosen properties, and the
// control information the negotiated metadata level asks for.
type EntityWriter struct {
	set    *metadata.EntitySet
	props  []*metadata.Property // written, in order
	pos    []int                // position of each written property in a row
	keyPos []int                // positions of the key properties in a row
	json   JSON
	root   func([]byte) []byte // writes the service root (or leaves its place) in ids and links
	etags  bool                // rows hold every property, so each entity gets @odata.etag
}

// NewEntityWriter writes entities whose rows hold columns, showing props;
// root writes the service root in ids and links, JSON-escaped.
func NewEntityWriter(set *metadata.EntitySet, props, columns []*metadata.Property, j JSON, root func([]byte) []byte) *EntityWriter {
	w := &EntityWriter{set: set, props: props, json: j, root: root}
	index := make(map[*metadata.Property]int, len(columns))
	for i, c := range columns {
		index[c] = i
	}
	positions := make([]int, len(props)+len(set.Type.Key))
	w.pos, w.keyPos = positions[:len(props)], positions[len(props):]
	for i, p := range props {
		w.pos[i] = index[p]
	}
	for i, k := range set.Type.Key {
		w.keyPos[i] = index[k]
	}
	// an ETag covers every property in the type's order; only rows read
	// that way can carry one
	w.etags = len(columns) == len(set.Type.Properties)
	for i := 0; w.etags && i < len(columns); i++ {
		w.etags = columns[i] == set.Type.Properties[i]
	}
	return w
}

// EntityETag is a weak validator over every property of a row in the
// type's order: the same row gives the same ETag on every replica.
func EntityETag(set *metadata.EntitySet, row []any) string {
	var tag ETag
	tag.Of(set, row)
	return string(tag[:])
}

// ETag is an ETag's text, built without allocating: entity answers and
// every row of a list page carry one.
type ETag [3 + 16 + 1]byte // W/" + 12 bytes of a SHA-256 in base64 + "

// Of makes the ETag of a row of set.
func (t *ETag) Of(set *metadata.EntitySet, row []any) {
	var buf [512]byte // a typical row fits
	b := buf[:0]
	for i, p := range set.Type.Properties {
		b = AppendValue(b, row[i], p.Type, false)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	copy(t[:], `W/"`)
	base64.RawURLEncoding.Encode(t[3:19], sum[:12])
	t[19] = '"'
}

// EntityID is the canonical URL of an entity relative to the service root:
// Customers(42), OrderLines(OrderId=1,ProductId=2).
func EntityID(set *metadata.EntitySet, values []any, keyPos []int) string {
	key := set.Type.Key
	return KeyPath(set.Name, len(key), func(i int) (*metadata.Property, any) { return key[i], values[keyPos[i]] })
}

// KeyPath spells an entity's address below the service root for paths,
// ids and links: Set(1), Set('a%20b'), Set(A=1,B='x'), each value as an
// OData literal escaped for a URL path. Every id and link the gateway
// writes (entities, Location, @removed and $deletedEntity) comes from
// here, so that an entity is announced under one id only.
func KeyPath(set string, n int, part func(i int) (*metadata.Property, any)) string {
	var b strings.Builder
	b.WriteString(set + "(")
	for i := range n {
		p, v := part(i)
		if i > 0 {
			b.WriteByte(',')
		}
		if n > 1 {
			b.WriteString(p.Name + "=")
		}
		b.WriteString(url.PathEscape(Literal(v, p.Type)))
	}
	b.WriteByte(')')
	return b.String()
}

// AppendEntity writes one entity object, without the surrounding context.
// tag is the row's ETag when the caller has made it already for a header;
// with nil it is made here, when the object carries one.
func (w *EntityWriter) AppendEntity(b []byte, values []any, tag *ETag, extra func([]byte) []byte) []byte {
	b = append(b, '{')
	start := len(b)
	if extra != nil {
		b = extra(b)
	}
	first := len(b) == start
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if w.etags && w.json.Metadata != MetadataNone {
		sep()
		b = append(b, `"@odata.etag":`...)
		if tag == nil {
			tag = new(ETag)
			tag.Of(w.set, values)
		}
		b = AppendString(b, string(tag[:]))
	}
	if w.json.Metadata == MetadataFull {
		id := EntityID(w.set, values, w.keyPos)
		sep()
		b = append(b, `"@odata.type":`...)
		b = AppendString(b, "#"+w.set.Type.QualifiedName())
		b = append(b, `,"@odata.id":"`...)
		b = AppendEscaped(w.root(b), id)
		b = append(b, `","@odata.editLink":"`...)
		b = AppendEscaped(w.root(b), id)
		b = append(b, '"')
	}
	for i, p := range w.props {
		if w.json.Metadata == MetadataFull && !ImplicitTypes[p.Type] {
			sep()
			b = AppendString(b, p.Name+"@odata.type")
			b = append(b, ':')
			b = AppendString(b, "#"+strings.TrimPrefix(string(p.Type), "Edm."))
		}
		sep()
		b = AppendString(b, p.Name)
		b = append(b, ':')
		b = AppendValue(b, values[w.pos[i]], p.Type, w.json.IEEE754)
	}
	return append(b, '}')
}

// KeyPositions are the positions of the key's properties in a row.
func (w *EntityWriter) KeyPositions() []int { return w.keyPos }

// AppendCollectionStart opens a collection's object up to its value
// array: the context URL (after the service root, which root writes) where
// the metadata level shows it, and the count when asked (count not nil).
func AppendCollectionStart(b []byte, j JSON, root func([]byte) []byte, context string, count *int64) []byte {
	b = append(b, '{')
	if j.Metadata != MetadataNone {
		b = append(b, `"@odata.context":"`...)
		b = AppendEscaped(root(b), context)
		b = append(b, `",`...)
	}
	if count != nil {
		b = append(b, `"@odata.count":`...)
		b = strconv.AppendInt(b, *count, 10)
		b = append(b, ',')
	}
	return append(b, `"value":[`...)
}

// AppendCollectionEnd closes the value array and the object: with a next
// link (next writes its text, JSON-escaped) when more follows, else with
// a delta link when one is given.
func AppendCollectionEnd(b []byte, next func([]byte) []byte, deltaLink string) []byte {
	b = append(b, ']')
	switch {
	case next != nil:
		b = append(b, `,"@odata.nextLink":"`...)
		b = next(b)
		b = append(b, '"')
	case deltaLink != "":
		b = append(b, `,"@odata.deltaLink":`...)
		b = AppendString(b, deltaLink)
	}
	return append(b, "}\n"...)
}
