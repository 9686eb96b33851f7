package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
)

// newEntityWriter writes the entities of the planned set as the request
// asks for them.
func newEntityWriter(r *request, sp *splice) *format.EntityWriter {
	return format.NewEntityWriter(r.plan.Set, r.plan.Select, r.plan.Query.Columns, r.json, sp.root)
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
	var tag format.ETag // for the header and the body alike
	tag.Of(r.plan.Set, values)
	b := w.AppendEntity(nil, values, &tag, func(b []byte) []byte {
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
		b = format.AppendEscaped(sp.root(b), "$metadata#"+format.EntityID(r.plan.Set, values, w.KeyPositions())+"/"+p.Name)
		b = append(b, `",`...)
	}
	if r.json.Metadata == format.MetadataFull && !format.ImplicitTypes[p.Type] {
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
