package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
)

// Delta links (OData 4.01 Part 1 §11.3) let Salesforce's External Change
// Data Capture poll a set for what changed since its last look. A read
// that asks with Prefer: odata.track-changes gets, on its last page, a
// delta link whose $deltatoken (signed, opaque) holds the set, the read's
// $select, $filter and $search, and the change log's position before the
// read; GET on it answers every entity changed since (as it is now),
// every one deleted, and every one that left the filter (removed, reason
// "changed"), paged like any collection, and a new delta link.

// deltaToken is what a $deltatoken holds.
type deltaToken struct {
	Set     string `json:"s"`
	Options string `json:"o"`           // $select, $filter, $search, $format as the client wrote them
	From    uint64 `json:"f"`           // changes from this position...
	To      uint64 `json:"t,omitempty"` // ...up to this one (0: now), in a nextLink
	After   int64  `json:"a,omitempty"` // in a nextLink: changes after this log entry
	Issued  int64  `json:"i"`           // when the chain's delta link was made (Unix seconds)
}

// tracker is the source's change log reader, behind the cache when there
// is one, for a tracked set.
func (r *request) tracker(es *metadata.EntitySet) (sources.ChangeTracker, sources.Source) {
	t, ok := sources.As[sources.ChangeTracker](r.src)
	src, isSource := t.(sources.Source) // the tracking source itself: a delta reads the rows as they are, never a cached answer
	if !ok || !isSource || !es.Tracked {
		return nil, nil
	}
	return t, src
}

// deltaOptions are the options of the read a delta link continues.
func deltaOptions(rawQuery string) string {
	var keep []string
	for pair := range uri.Pairs(rawQuery) {
		switch pair.Option() {
		case "$select", "$filter", "$search", "$format":
			keep = append(keep, pair.Raw)
		}
	}
	return strings.Join(keep, "&")
}

// startTracking notes where the change log stands before a read that asks
// to track changes, so that its last page can carry a delta link. Sets
// that are not tracked ignore the preference, as the protocol allows.
func (r *request) startTracking() error {
	if !r.prefs.TrackChanges {
		return nil
	}
	t, _ := r.tracker(r.plan.Set)
	if t == nil {
		return nil
	}
	pos, err := t.ChangePosition(r.req.Context())
	if err != nil {
		return err
	}
	// the rows must hold every change before pos: not a standby's, which
	// may not have replayed them yet
	r.req = r.req.WithContext(sources.ReadNewest(r.req.Context()))
	r.deltaLink = r.root + r.plan.Set.Name + "?$deltatoken=" + url.QueryEscape(r.srv.signer.Seal(deltaToken{
		Set: r.plan.Set.Name, Options: deltaOptions(r.req.URL.RawQuery), From: pos, Issued: time.Now().Unix()}))
	return nil
}

// preferenceApplied is the Preference-Applied header of a read.
func (r *request) preferenceApplied(pg page) string {
	var applied []string
	if pg.Applied {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(pg.Size))
	}
	if r.deltaLink != "" {
		applied = append(applied, "odata.track-changes")
	}
	return strings.Join(applied, ", ")
}

// serveDelta answers GET on a delta link.
func (r *request) serveDelta() error {
	es := r.plan.Set
	var tok deltaToken
	if !r.srv.signer.Open(r.plan.DeltaToken, &tok) || tok.Set != es.Name {
		return odata.BadRequest(odata.CodeBadDeltaToken, "the $deltatoken is not one this service made for %s: use the delta link as it was given", es.Name).WithTarget("$deltatoken")
	}
	t, src := r.tracker(es)
	if t == nil {
		return odata.Gone("change tracking is no longer installed on %s, so its changes cannot be told; read the set again to get a new delta link", es.Name)
	}
	if age := time.Since(time.Unix(tok.Issued, 0)); age > es.ChangeRetention {
		return odata.Gone("this delta link is %s old, and changes are kept %s; read %s again to get a new delta link",
			age.Round(time.Minute), es.ChangeRetention, es.Name)
	}
	// the read the link continues: its $select, $filter and $search
	q, perr := uri.ParseQueryWith(tok.Options, r.srv.limits)
	if perr != nil {
		return odata.BadRequest(odata.CodeBadDeltaToken, "the delta link's options no longer read: %s", perr.Message)
	}
	p, berr := plan.BuildWith(r.svc, &uri.Request{Segments: []uri.Segment{{Name: es.Name}}, Query: q}, http.MethodGet, plan.Options{Limits: r.srv.limits})
	if berr != nil {
		return odata.Gone("the delta link's query no longer applies to %s (%s); read the set again", es.Name, berr.Message)
	}
	j, nerr := format.Negotiate(p.Format, r.req.Header.Get("Accept"))
	if nerr != nil {
		return nerr
	}
	r.plan, r.json = p, j
	ctx := sources.ReadNewest(r.req.Context()) // the rows as they are now, after every change the log told
	var err error
	if tok.To == 0 {
		if tok.To, err = t.ChangePosition(ctx); err != nil {
			return err
		}
	}
	size := es.PageSize
	if m := r.prefs.MaxPageSize; m > 0 && m < size {
		size = m
	}
	held, serr := r.querySlots(es.Name, 1)
	if serr != nil {
		return serr
	}
	defer func() { r.slots.release(held) }()
	batch, err := t.Changes(ctx, es, tok.From, tok.To, tok.After, size)
	if err != nil {
		return err
	}
	if batch.Emptied {
		return odata.Gone("%s was emptied (TRUNCATE) since the delta link was made, so which rows went is not known; read the set again", es.Name)
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"@odata.context":`...)
	b = format.AppendString(b, r.root+r.contextPath("/$delta"))
	b = append(b, `,"value":[`...)
	w := newEntityWriter(r, r.inPlace())
	n := 0
	for _, c := range batch.Changes {
		entry, err := r.deltaEntry(ctx, src, w, c)
		if err != nil {
			return err
		}
		if entry == nil {
			continue // gone since: its delete comes in a later delta
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, entry...)
		n++
	}
	b = append(b, ']')
	next := tok
	if batch.More {
		next.After = batch.Changes[len(batch.Changes)-1].ID
		b = append(b, `,"@odata.nextLink":`...)
	} else {
		next = deltaToken{Set: es.Name, Options: tok.Options, From: tok.To, Issued: time.Now().Unix()}
		b = append(b, `,"@odata.deltaLink":`...)
	}
	b = format.AppendString(b, r.root+es.Name+"?$deltatoken="+url.QueryEscape(r.srv.signer.Seal(next)))
	b = append(b, "}\n"...)
	r.w.Header().Set("Server-Timing", r.timing.header())
	r.send(http.StatusOK, r.json.ContentType(), b)
	return nil
}

// deltaEntry is one entry of a delta: the entity as it is now, or its
// removal, deleted or no longer matching the read's filter; nil when the
// row is gone since (its delete is after this delta's range).
func (r *request) deltaEntry(ctx context.Context, src sources.Source, w *format.EntityWriter, c sources.Change) ([]byte, error) {
	if c.Deleted {
		return r.removed(c.Key, "deleted"), nil
	}
	row, err := r.readByKey(ctx, src, c.Key, r.plan.Query.Where)
	if err != nil || row != nil {
		if row == nil {
			return nil, err
		}
		return w.AppendEntity(nil, row, nil, nil), nil
	}
	if r.plan.Query.Where == nil {
		return nil, nil
	}
	// not matching: changed out of the filter, or gone since
	if row, err = r.readByKey(ctx, src, c.Key, nil); err != nil || row == nil {
		return nil, err
	}
	return r.removed(c.Key, "changed"), nil
}

// readByKey reads one row of the read's columns, where the filter (if
// any) holds.
func (r *request) readByKey(ctx context.Context, src sources.Source, key []plan.KeyValue, where plan.Expr) ([]any, error) {
	q := r.plan.Query
	q.Where, q.OrderBy, q.Limit, q.Skip, q.After = where, nil, 1, 0, nil
	for _, kv := range key {
		eq := &plan.Binary{Op: plan.OpEq, Left: &plan.PropRef{Prop: kv.Prop}, Right: &plan.Const{Value: kv.Value, T: kv.Prop.Type}, T: metadata.Boolean}
		if q.Where == nil {
			q.Where = eq
		} else {
			q.Where = &plan.Binary{Op: plan.OpAnd, Left: q.Where, Right: eq, T: metadata.Boolean}
		}
	}
	rows, err := src.Query(ctx, &q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	return append([]any(nil), rows.Values()...), nil
}

// removed is a deleted-entity entry: @removed in OData 4.01, the
// $deletedEntity form in 4.0.
func (r *request) removed(key []plan.KeyValue, reason string) []byte {
	id := r.root + format.KeyPath(r.plan.Set.Name, len(key), func(i int) (*metadata.Property, any) { return key[i].Prop, key[i].Value })
	var b []byte
	if r.version == odata.V40 {
		b = append(b, `{"@odata.context":`...)
		b = format.AppendString(b, r.root+"$metadata#"+r.plan.Set.Name+"/$deletedEntity")
		b = append(b, `,"id":`...)
		b = format.AppendString(b, id)
		b = append(b, `,"reason":`...)
		b = format.AppendString(b, reason)
		return append(b, '}')
	}
	b = append(b, `{"@removed":{"reason":`...)
	b = format.AppendString(b, reason)
	b = append(b, `},"@id":`...)
	b = format.AppendString(b, id)
	return append(b, '}')
}
