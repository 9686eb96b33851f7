package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
)

// implicitTypes are the Edm types a JSON reader infers from the value
// itself; full metadata annotates every other type.
var implicitTypes = map[metadata.Type]bool{metadata.String: true, metadata.Boolean: true,
	metadata.Int32: true, metadata.Double: true}

// entityWriter writes entities of one set: the chosen properties, and the
// control information the negotiated metadata level asks for.
type entityWriter struct {
	set    *metadata.EntitySet
	props  []*metadata.Property // written, in order
	pos    []int                // position of each written property in a row
	keyPos []int                // positions of the key properties in a row
	json   format.JSON
	sp     *splice // where the service root goes in ids and links
	etags  bool    // rows hold every property, so each entity gets @odata.etag
}

// newRowWriter writes entities whose rows hold columns, showing props.
func newRowWriter(set *metadata.EntitySet, props, columns []*metadata.Property, j format.JSON, sp *splice) *entityWriter {
	w := &entityWriter{set: set, props: props, json: j, sp: sp}
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

func newEntityWriter(r *request, sp *splice) *entityWriter {
	return newRowWriter(r.plan.Set, r.plan.Select, r.plan.Query.Columns, r.json, sp)
}

// entityETag is a weak validator over every property of a row in the
// type's order: the same row gives the same ETag on every replica.
func entityETag(set *metadata.EntitySet, row []any) string {
	var tag etag
	tag.of(set, row)
	return string(tag[:])
}

// etag is an ETag's text, built without allocating: entity answers and
// every row of a list page carry one.
type etag [3 + 16 + 1]byte // W/" + 12 bytes of a SHA-256 in base64 + "

func (t *etag) of(set *metadata.EntitySet, row []any) {
	var buf [512]byte // a typical row fits
	b := buf[:0]
	for i, p := range set.Type.Properties {
		b = format.AppendValue(b, row[i], p.Type, false)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	copy(t[:], `W/"`)
	base64.RawURLEncoding.Encode(t[3:19], sum[:12])
	t[19] = '"'
}

// entityID is the canonical URL of an entity relative to the service root:
// Customers(42), OrderLines(OrderId=1,ProductId=2).
func entityID(set *metadata.EntitySet, values []any, keyPos []int) string {
	key := set.Type.Key
	return keyPath(set.Name, len(key), func(i int) (*metadata.Property, any) { return key[i], values[keyPos[i]] })
}

// keyPath spells an entity's address below the service root for paths,
// ids and links: Set(1), Set('a%20b'), Set(A=1,B='x'), each value as an
// OData literal escaped for a URL path. Every id and link the gateway
// writes (entities, Location, @removed and $deletedEntity) comes from
// here, so that an entity is announced under one id only.
func keyPath(set string, n int, part func(i int) (*metadata.Property, any)) string {
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
		b.WriteString(url.PathEscape(plan.FormatLiteral(v, p.Type)))
	}
	b.WriteByte(')')
	return b.String()
}

// appendEntity writes one entity object, without the surrounding context.
// tag is the row's ETag when the caller has made it already for a header;
// with nil it is made here, when the object carries one.
func (w *entityWriter) appendEntity(b []byte, values []any, tag *etag, extra func([]byte) []byte) []byte {
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
	if w.etags && w.json.Metadata != format.MetadataNone {
		sep()
		b = append(b, `"@odata.etag":`...)
		if tag == nil {
			tag = new(etag)
			tag.of(w.set, values)
		}
		b = format.AppendString(b, string(tag[:]))
	}
	if w.json.Metadata == format.MetadataFull {
		id := entityID(w.set, values, w.keyPos)
		sep()
		b = append(b, `"@odata.type":`...)
		b = format.AppendString(b, "#"+w.set.Type.QualifiedName())
		b = append(b, `,"@odata.id":"`...)
		b = format.AppendEscaped(w.sp.root(b), id)
		b = append(b, `","@odata.editLink":"`...)
		b = format.AppendEscaped(w.sp.root(b), id)
		b = append(b, '"')
	}
	for i, p := range w.props {
		if w.json.Metadata == format.MetadataFull && !implicitTypes[p.Type] {
			sep()
			b = format.AppendString(b, p.Name+"@odata.type")
			b = append(b, ':')
			b = format.AppendString(b, "#"+strings.TrimPrefix(string(p.Type), "Edm."))
		}
		sep()
		b = format.AppendString(b, p.Name)
		b = append(b, ':')
		b = format.AppendValue(b, values[w.pos[i]], p.Type, w.json.IEEE754)
	}
	return append(b, '}')
}

// fetchOne runs a single-entity plan and returns its row, or 404. It may
// run for several requests at once (see cache.Answers.Answer): it uses only
// ctx and what they share.
func (r *request) fetchOne(ctx context.Context) ([]any, error) {
	held, err := r.querySlots(r.plan.Set.Name, 1)
	if err != nil {
		return nil, err
	}
	defer r.slots.release(held)
	start, ctx := time.Now(), cache.WithStatus(ctx)
	rows, err := r.src.Query(ctx, &r.plan.Query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := rows.Next()
	r.database(r.plan.Set.Name, "query", cache.StatusOf(ctx), time.Since(start))
	if !found {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, entityNotFound(r.plan.Set, r.plan.Key)
	}
	return rows.Values(), nil
}

func (r *request) serveEntity() error {
	return r.answer(func() string { return "entity|" + plan.QueryKey(&r.plan.Query) + r.shapeKey() }, r.renderEntity)
}

// renderEntity reads the entity and writes its answer.
func (r *request) renderEntity(ctx context.Context, sp *splice) (*cache.Answer, error) {
	values, err := r.fetchOne(ctx)
	if err != nil {
		return nil, err
	}
	w := newEntityWriter(r, sp)
	var tag etag // for the header and the body alike
	tag.of(r.plan.Set, values)
	b := w.appendEntity(nil, values, &tag, func(b []byte) []byte {
		if r.json.Metadata == format.MetadataNone {
			return b
		}
		b = append(b, `"@odata.context":"`...)
		return append(format.AppendEscaped(sp.root(b), r.contextPath("/$entity")), '"')
	})
	return &cache.Answer{ContentType: r.json.ContentType(), ETag: string(tag[:]), Rows: 1, Body: b, Holes: sp.holes, Shape: r.shape}, nil
}

func (r *request) serveProperty() error {
	kind := "property|"
	if r.plan.Kind == plan.KindPropertyValue {
		kind = "value|"
	}
	return r.answer(func() string { return kind + r.plan.Property.Name + "|" + plan.QueryKey(&r.plan.Query) + r.shapeKey() }, r.renderProperty)
}

// renderProperty reads a property of an entity and writes its answer: a
// JSON value, or the raw value; 204 when it is null.
func (r *request) renderProperty(ctx context.Context, sp *splice) (*cache.Answer, error) {
	values, err := r.fetchOne(ctx)
	if err != nil {
		return nil, err
	}
	p := r.plan.Property
	v := values[0]
	if v == nil {
		// a null property has no representation
		return &cache.Answer{Status: http.StatusNoContent}, nil
	}
	raw := func(contentType string, b []byte) (*cache.Answer, error) {
		return &cache.Answer{ContentType: contentType, BodyETag: true, Rows: 1, Body: b}, nil
	}
	if r.plan.Kind == plan.KindPropertyValue {
		switch p.Type {
		case metadata.Binary:
			return raw("application/octet-stream", v.([]byte))
		case metadata.String:
			return raw("text/plain;charset=utf-8", []byte(v.(string)))
		}
		text := format.AppendValue(nil, v, p.Type, false)
		return raw("text/plain;charset=utf-8", []byte(strings.Trim(string(text), `"`)))
	}
	w := newEntityWriter(r, sp)
	b := []byte(`{`)
	if r.json.Metadata != format.MetadataNone {
		b = append(b, `"@odata.context":"`...)
		b = format.AppendEscaped(sp.root(b), "$metadata#"+entityID(r.plan.Set, values, w.keyPos)+"/"+p.Name)
		b = append(b, `",`...)
	}
	if r.json.Metadata == format.MetadataFull && !implicitTypes[p.Type] {
		b = append(b, `"value@odata.type":`...)
		b = format.AppendString(b, "#"+strings.TrimPrefix(string(p.Type), "Edm."))
		b = append(b, ',')
	}
	b = append(b, `"value":`...)
	b = format.AppendValue(b, v, p.Type, r.json.IEEE754)
	b = append(b, '}')
	a, _ := raw(r.json.ContentType(), b)
	a.Holes = sp.holes
	return a, nil
}
