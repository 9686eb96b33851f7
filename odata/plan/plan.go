package plan

import (
	"net/http"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/uri"
)

// Kind is what a request addresses.
type Kind int

const (
	KindServiceDocument Kind = iota
	KindMetadata
	KindCollection    // Set
	KindCount         // Set/$count
	KindEntity        // Set(key)
	KindProperty      // Set(key)/Prop
	KindPropertyValue // Set(key)/Prop/$value
)

var kindNames = [...]string{"the service document", "$metadata", "an entity set", "$count",
	"a single entity", "a property", "a property's raw value"}

func (k Kind) String() string { return kindNames[k] }

// KeyValue is one bound part of a key.
type KeyValue struct {
	Prop  *metadata.Property
	Value any
}

// Order is one sort key.
type Order struct {
	Expr Expr
	Desc bool
}

// Query is what a source runs: one SELECT, described without SQL.
type Query struct {
	Set     *metadata.EntitySet
	Columns []*metadata.Property // values returned for each row, in this order
	Where   Expr                 // nil: every row
	OrderBy []Order              // always ends with the key, so the order is total
	Skip    int64
	Limit   int   // rows to return at most; 0: no limit
	After   []any // keyset: rows strictly after these OrderBy values
}

// SortColumns says where each sort key's value is found in a result row:
// the index of the column it is (a sort on a selected property, the key
// among them), or -1 for a sort expression the statement selects after
// the columns, in order. A selected property is never selected twice.
func (q *Query) SortColumns() []int {
	out := make([]int, len(q.OrderBy))
	for i, o := range q.OrderBy {
		out[i] = -1
		if r, ok := o.Expr.(*PropRef); ok {
			for j, c := range q.Columns {
				if c == r.Prop {
					out[i] = j
					break
				}
			}
		}
	}
	return out
}

// Plan is a bound request.
type Plan struct {
	Kind     Kind
	Set      *metadata.EntitySet
	Key      []KeyValue
	Property *metadata.Property // KindProperty, KindPropertyValue
	Select   []*metadata.Property
	// SelectExplicit is true when $select narrowed the properties; the
	// context URL then lists them.
	SelectExplicit bool
	Query          Query
	Count          bool   // $count=true
	Top            *int64 // $top as asked
	SkipToken      *SkipToken
	Format         string
	// DeltaToken is the $deltatoken of a delta link: the changes since the
	// read the token was made for.
	DeltaToken string
	// Page is how a collection is paged: its size, the rows to fetch
	// (Query.Limit), whether a nextLink may follow.
	Page Page
	// Writing is the write a write method asks for, target bound and
	// kind decided; its body is bound after (Write.Bind). nil for a read.
	Writing *Write
}

// Page is how one page of a collection is served.
type Page struct {
	Size    int   // the server-driven page size
	Top     int64 // rows still asked for by $top; -1: no $top
	Limit   int   // rows to fetch
	LookOne bool  // fetch one more row than the page, to learn whether more follow
	Applied bool  // the client's odata.maxpagesize was honoured
}

// Options are what planning needs beyond the URL.
type Options struct {
	Limits odata.Limits
	// Signer verifies a skiptoken and puts its position in the query;
	// nil leaves the token for the caller to verify.
	Signer *Signer
	// MaxPageSize is the client's Prefer: odata.maxpagesize; 0 for none.
	MaxPageSize int
}

// allowed says which system query options apply to which kind of resource;
// anything else is refused before a query runs.
var allowed = map[Kind]map[string]bool{
	KindServiceDocument: {"$format": true},
	KindMetadata:        {"$format": true},
	KindCollection: {"$select": true, "$filter": true, "$orderby": true, "$top": true, "$skip": true,
		"$count": true, "$search": true, "$format": true, "$skiptoken": true, "$deltatoken": true},
	KindCount:         {"$filter": true, "$search": true, "$format": true},
	KindEntity:        {"$select": true, "$format": true},
	KindProperty:      {"$format": true},
	KindPropertyValue: {"$format": true},
}

// Build binds a parsed request to the service model, within the default
// limits. method is the HTTP method (after X-HTTP-Method).
func Build(svc *metadata.Service, req *uri.Request, method string) (*Plan, *odata.Error) {
	return BuildWith(svc, req, method, Options{Limits: odata.DefaultLimits()})
}

// BuildWith binds a request completely, so that a handler has only to run
// it: for a read, its options checked by the read matrix and bound, its
// skiptoken verified (with a Signer) and its page sized; for a write, its
// target and its kind from the write matrix. A method the resource does
// not take is refused with the Allow header the matrix gives.
func BuildWith(svc *metadata.Service, req *uri.Request, method string, opts Options) (*Plan, *odata.Error) {
	p, err := Target(svc, req)
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet && method != http.MethodHead {
		w, err := p.Write(method, &req.Query)
		if err != nil {
			return nil, err
		}
		p.Writing = w
		return p, nil
	}
	lim := opts.Limits
	q := &req.Query
	if len(q.Duplicates) > 0 {
		return nil, odata.BadRequest(odata.CodeBadRequest, "%s is given more than once", q.Duplicates[0]).WithTarget(q.Duplicates[0])
	}
	for _, name := range q.Present {
		if !allowed[p.Kind][name] {
			return nil, odata.BadRequest(odata.CodeBadRequest, "%s does not apply to %s", name, p.Kind).WithTarget(name)
		}
	}
	if p.Set == nil {
		return p, nil
	}
	if err := p.bindOptions(q, lim); err != nil {
		return nil, err
	}
	if p.SkipToken != nil && opts.Signer != nil {
		if err := opts.Signer.Decode(svc.Version(), &p.Query, p.SkipToken.Raw); err != nil {
			return nil, err
		}
	}
	if p.Kind == KindCollection {
		p.Page = p.pageOf(opts.MaxPageSize)
		p.Query.Limit = p.Page.Limit
	}
	return p, nil
}

// pageOf sizes a collection's page: the set's page size, or the client's
// smaller odata.maxpagesize, and $top within it.
func (p *Plan) pageOf(maxPageSize int) Page {
	pg := Page{Size: p.Set.PageSize, Top: -1}
	if maxPageSize > 0 {
		pg.Applied = true
		pg.Size = min(pg.Size, maxPageSize)
	}
	if p.Top != nil {
		pg.Top = *p.Top
	}
	if pg.Top >= 0 && pg.Top <= int64(pg.Size) {
		pg.Limit = int(pg.Top)
	} else {
		pg.Limit, pg.LookOne = pg.Size+1, true
	}
	return pg
}

// Target binds only the resource path: which set, key and property a
// request addresses.
func Target(svc *metadata.Service, req *uri.Request) (*Plan, *odata.Error) {
	p := &Plan{Format: req.Query.Format}
	if err := p.bindPath(svc, req.Segments); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) bindPath(svc *metadata.Service, segs []uri.Segment) *odata.Error {
	if len(segs) == 0 {
		p.Kind = KindServiceDocument
		return nil
	}
	first := segs[0]
	switch first.Name {
	case "$metadata":
		p.Kind = KindMetadata
		return nil
	case "$batch":
		return odata.NotImplemented("$batch")
	case "$all", "$crossjoin", "$entity", "$root", "$query", "$filter", "$each":
		return odata.NotImplemented(first.Name)
	}
	if strings.HasPrefix(first.Name, "$") {
		return odata.NotFound(odata.CodeNotFound, "%s cannot start a resource path", first.Name)
	}
	es, ok := svc.EntitySet(first.Name)
	switch {
	case !ok && first.Call:
		return odata.NotImplemented("functions and actions (" + first.Name + "())")
	case !ok:
		// a resource path starts with a set or an (unqualified) function
		// import: a qualified name is no more than an unknown one
		return odata.NotFound(odata.CodeUnknownSet, "this service has no entity set named %s", first.Name).WithTarget(first.Name)
	case first.Call:
		return odata.BadRequest(odata.CodeSyntax, "%s is an entity set, not a function: address an entity by its key, as %s(1), or the set as %s", es.Name, es.Name, es.Name).WithTarget(first.Name)
	}
	p.Set = es
	p.Kind = KindCollection
	rest := segs[1:]
	if first.Key != nil {
		key, err := bindKey(es, first.Key)
		if err != nil {
			return err
		}
		p.Key = key
		p.Kind = KindEntity
	}
	if len(rest) == 0 {
		return nil
	}
	next := rest[0]
	if next.KeyAsSegment {
		return keyAsSegment(es, p.Kind, rest)
	}
	switch {
	case next.Name == "$count" && p.Kind == KindCollection:
		p.Kind = KindCount
		return nil
	case next.Name == "$count":
		return odata.BadRequest(odata.CodeBadRequest, "$count applies to collections, not to a single entity")
	case next.Name == "$ref":
		return odata.NotImplemented("entity references ($ref)")
	case next.Name == "$value":
		return odata.BadRequest(odata.CodeBadRequest, "%s is not a media entity; address a property's value as %s(key)/Property/$value", es.Name, es.Name)
	case strings.HasPrefix(next.Name, "$"):
		return odata.BadRequest(odata.CodeBadRequest, "%s cannot follow %s", next.Name, first.Name)
	case p.Kind == KindCollection:
		if ownNamespace(next.Name) {
			return odata.NotImplemented("type casts and bound operations (" + next.Name + ")")
		}
		return odata.BadRequest(odata.CodeBadRequest, "a property of %s needs a key first, as %s(1)/%s", es.Name, es.Name, next.Name)
	}
	prop, ok := es.Type.Property(next.Name)
	if !ok {
		if ownNamespace(next.Name) {
			return odata.NotImplemented("type casts and bound operations (" + next.Name + ")")
		}
		return odata.NotFound(odata.CodeUnknownProperty, "%s has no property %s", es.Type.Name, next.Name).WithTarget(next.Name)
	}
	if next.Key != nil || next.Call {
		return odata.BadRequest(odata.CodeBadRequest, "%s is a property: it takes no key and no parentheses", next.Name)
	}
	p.Property = prop
	p.Kind = KindProperty
	if len(rest) == 1 {
		return nil
	}
	if rest[1].Name == "$value" && len(rest) == 2 {
		p.Kind = KindPropertyValue
		return nil
	}
	return odata.BadRequest(odata.CodeBadRequest, "%s is a primitive property; only /$value may follow it", next.Name)
}

// bindKey matches a key predicate to the key properties and converts values.
func bindKey(es *metadata.EntitySet, kv []uri.KeyValue) ([]KeyValue, *odata.Error) {
	keyProps := es.Type.Key
	if len(kv) != len(keyProps) {
		return nil, odata.BadRequest(odata.CodeBadRequest, "the key of %s has %d part(s): %s", es.Name, len(keyProps), keyNames(keyProps)).WithTarget("key")
	}
	out := make([]KeyValue, len(keyProps))
	for i, part := range kv {
		prop := keyProps[i]
		if part.Name != "" {
			var ok bool
			prop, ok = es.Type.Property(part.Name)
			if !ok || !es.Type.IsKey(prop) {
				return nil, odata.BadRequest(odata.CodeBadRequest, "%s is not part of the key of %s (%s)", part.Name, es.Name, keyNames(keyProps)).WithTarget("key")
			}
		} else if len(kv) > 1 {
			return nil, odata.BadRequest(odata.CodeBadRequest, "name every part of the compound key of %s", es.Name)
		}
		var value any
		switch {
		case part.Value.Kind != uri.LitNull:
			c, err := convertConst(constFromLiteral(part.Value), prop.Type)
			if err != nil {
				return nil, odata.BadRequest(odata.CodeTypeMismatch, "key %s: %v", prop.Name, err).WithTarget(prop.Name)
			}
			value = c.Value
		case !prop.Nullable:
			// only a summary's group without a value has a null in its key
			return nil, odata.BadRequest(odata.CodeBadRequest, "a key value cannot be null").WithTarget(prop.Name)
		}
		for j := 0; j < i; j++ {
			if out[j].Prop == prop {
				return nil, odata.BadRequest(odata.CodeBadRequest, "key part %s is given twice", prop.Name)
			}
		}
		out[i] = KeyValue{Prop: prop, Value: value}
	}
	return out, nil
}

func keyNames(ps []*metadata.Property) string {
	n := make([]string, len(ps))
	for i, p := range ps {
		n[i] = p.Name
	}
	return strings.Join(n, ", ")
}

// KeyExpr is the filter selecting one entity by key.
func KeyExpr(key []KeyValue) Expr {
	var e Expr
	for _, kv := range key {
		eq := &Binary{Op: OpEq, Left: &PropRef{Prop: kv.Prop}, Right: &Const{Value: kv.Value, T: kv.Prop.Type}, T: metadata.Boolean}
		if e == nil {
			e = eq
		} else {
			e = &Binary{Op: OpAnd, Left: e, Right: eq, T: metadata.Boolean}
		}
	}
	return e
}

func and(a, b Expr) Expr {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return &Binary{Op: OpAnd, Left: a, Right: b, T: metadata.Boolean}
}

func (p *Plan) bindOptions(q *uri.Query, lim odata.Limits) *odata.Error {
	es := p.Set
	typ := es.Type
	// $select
	p.Select = typ.Properties
	if q.HasSelect {
		sel, explicit, err := bindSelect(typ, q.Select)
		if err != nil {
			return err
		}
		p.Select, p.SelectExplicit = sel, explicit
	}
	// $filter and $search
	var where Expr
	if q.Filter != nil {
		b := &binder{option: "$filter", typ: typ, lim: lim}
		e, err := b.bindBool(q.Filter)
		if err != nil {
			return err
		}
		where = e
	}
	if q.Search != nil {
		e, err := bindSearch(es, q.Search)
		if err != nil {
			return err
		}
		where = and(where, e)
	}
	p.Count = q.Count != nil && *q.Count
	p.Top = q.Top
	query := Query{Set: es, Where: where}
	switch p.Kind {
	case KindEntity, KindProperty, KindPropertyValue:
		query.Where = KeyExpr(p.Key)
		query.Limit = 1
		if p.Property != nil {
			p.Select = []*metadata.Property{p.Property}
		}
	case KindCollection:
		order, err := bindOrderBy(typ, q.OrderBy, lim)
		if err != nil {
			return err
		}
		query.OrderBy = order
		if q.Skip != nil {
			query.Skip = *q.Skip
		}
	}
	query.Columns = withKey(p.Select, typ.Key)
	if p.Kind == KindEntity {
		// a single entity reads every column: its ETag covers the whole row
		query.Columns = typ.Properties
	}
	p.Query = query
	if q.SkipToken != "" {
		p.SkipToken = &SkipToken{Raw: q.SkipToken}
	}
	p.DeltaToken = q.DeltaToken
	return nil
}

// withKey returns props followed by any key property they lack.
func withKey(props, key []*metadata.Property) []*metadata.Property {
	out := append([]*metadata.Property(nil), props...)
	for _, k := range key {
		found := false
		for _, p := range props {
			if p == k {
				found = true
				break
			}
		}
		if !found {
			out = append(out, k)
		}
	}
	return out
}

func bindSelect(typ *metadata.EntityType, items []uri.SelectItem) ([]*metadata.Property, bool, *odata.Error) {
	var out []*metadata.Property
	seen := map[*metadata.Property]bool{}
	for _, it := range items {
		if it.Star {
			return typ.Properties, false, nil
		}
		p, ok := typ.Property(it.Path[0])
		if !ok && ownNamespace(it.Path[0]) {
			return nil, false, odata.NotImplemented("type cast or operation " + it.Path[0] + " in $select").WithTarget("$select")
		}
		if !ok {
			return nil, false, odata.BadRequest(odata.CodeUnknownProperty, "$select: %s has no property %s", typ.Name, it.Path[0]).WithTarget("$select")
		}
		if len(it.Path) > 1 {
			return nil, false, odata.BadRequest(odata.CodeBadRequest, "$select: %s is a primitive property and has no member %s", it.Path[0], it.Path[1]).WithTarget("$select")
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, true, nil
}

func bindOrderBy(typ *metadata.EntityType, items []uri.OrderItem, lim odata.Limits) ([]Order, *odata.Error) {
	var out []Order
	seen := map[*metadata.Property]bool{}
	b := &binder{option: "$orderby", typ: typ, lim: lim}
	for _, it := range items {
		e, err := b.bind(it.Expr)
		if err != nil {
			return nil, err
		}
		if _, ok := e.(*Const); ok {
			continue // ordering by a constant orders nothing
		}
		if e.Type() == metadata.Binary {
			return nil, odata.BadRequest(odata.CodeBadRequest, "$orderby: binary values cannot be sorted").WithTarget("$orderby")
		}
		if pr, ok := e.(*PropRef); ok {
			if seen[pr.Prop] {
				continue
			}
			seen[pr.Prop] = true
		}
		out = append(out, Order{Expr: e, Desc: it.Desc})
	}
	// the key makes the order total, which keyset paging needs
	for _, k := range typ.Key {
		if !seen[k] {
			out = append(out, Order{Expr: &PropRef{Prop: k}})
		}
	}
	return out, nil
}

// bindSearch turns $search into a filter: each term matches when any of the
// set's searched properties (every string one, unless the configuration
// names them) contains it, ignoring case; without any, never.
func bindSearch(es *metadata.EntitySet, n *uri.SearchNode) (Expr, *odata.Error) {
	strs := es.SearchedProperties()
	var build func(n *uri.SearchNode) Expr
	build = func(n *uri.SearchNode) Expr {
		switch n.Op {
		case "and", "or":
			op := OpAnd
			if n.Op == "or" {
				op = OpOr
			}
			return &Binary{Op: op, Left: build(n.Children[0]), Right: build(n.Children[1]), T: metadata.Boolean}
		case "not":
			return &Not{X: build(n.Children[0])}
		}
		// a term matches nothing in a type without text: Salesforce searches
		// every object of a source at once, and one of them must not fail it
		var e Expr = &Const{Value: false, T: metadata.Boolean}
		for i, p := range strs {
			m := &Call{Func: FnSearchMatch, Args: []Expr{&PropRef{Prop: p}, &Const{Value: n.Text, T: metadata.String}}, T: metadata.Boolean}
			if i == 0 {
				e = m
			} else {
				e = &Binary{Op: OpOr, Left: e, Right: m, T: metadata.Boolean}
			}
		}
		return e
	}
	return build(n), nil
}

// keyAsSegment answers a key written as a segment of its own
// (Customers/42): valid OData for a set with a one-part key, which this
// service does not implement (501); anything else is a malformed path.
func keyAsSegment(es *metadata.EntitySet, kind Kind, rest []uri.Segment) *odata.Error {
	notImplemented := odata.NotImplemented("key-as-segment URLs (write the key in parentheses, as " + es.Name + "(" + keyTemplate(es) + "))")
	seg, parts := rest[0], 0
	for parts < len(rest) && rest[parts].KeyAsSegment {
		parts++
	}
	switch {
	case kind != KindCollection:
		return odata.BadRequest(odata.CodeSyntax, "%q cannot follow a single entity of %s", seg.Name, es.Name)
	case len(es.Type.Key) != 1 && parts == len(es.Type.Key):
		return notImplemented
	case len(es.Type.Key) != 1:
		return odata.BadRequest(odata.CodeSyntax, "%s has a compound key: address an entity as %s(%s)", es.Name, es.Name, keyTemplate(es))
	case seg.Key != nil:
		if _, err := bindKey(es, seg.Key); err != nil {
			return err
		}
		return notImplemented
	case es.Type.Key[0].Type == metadata.String:
		return notImplemented // a string key may be written bare
	}
	return odata.BadRequest(odata.CodeSyntax, "%q is not a key of %s", seg.Name, es.Name)
}

// keyTemplate shows how to write a set's compound key.
func keyTemplate(es *metadata.EntitySet) string {
	if len(es.Type.Key) == 1 {
		return "1"
	}
	parts := make([]string, len(es.Type.Key))
	for i, k := range es.Type.Key {
		parts[i] = k.Name + "=..."
	}
	return strings.Join(parts, ",")
}

// ownNamespace reports a qualified name in the services' own namespace,
// or Edm's: only such a name can be a type cast or an operation, which
// this service does not implement (501); any other is a name that is not
// there.
func ownNamespace(name string) bool {
	i := strings.LastIndexByte(name, '.')
	return i > 0 && (name[:i] == metadata.Namespace || name[:i] == "Edm")
}
