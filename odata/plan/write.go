package plan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/odatagw/odatagw/odata/format"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/uri"
)

// WriteKind is what a write does.
type WriteKind int

const (
	WriteCreate        WriteKind = iota // POST Set
	WriteMerge                          // PATCH or MERGE Set(key): the given properties change
	WriteReplace                        // PUT Set(key): absent properties return to their default
	WriteDelete                         // DELETE Set(key)
	WriteSetProperty                    // PUT Set(key)/Prop
	WriteClearProperty                  // DELETE Set(key)/Prop
)

var writeNames = [...]string{"create", "update", "replace", "delete", "set property", "clear property"}

func (k WriteKind) String() string { return writeNames[k] }

// Assignment is one property a write sets. Default asks for the column's
// default instead of a value.
type Assignment struct {
	Prop    *metadata.Property
	Value   any
	Default bool
}

// Write is a bound write request.
type Write struct {
	Kind WriteKind
	Set  *metadata.EntitySet
	Key  []KeyValue
	// Set lists the properties to write, in the entity type's order.
	Assign []Assignment
	// Unchanged lists values the body gave for keys and computed
	// properties: they may repeat the current value, never change it.
	Unchanged []Assignment

	property *metadata.Property // the one a property write addresses
}

// writes is the write matrix: which method writes which kind of resource,
// and as what. It decides a write's kind and every Allow header; allowed
// (plan.go) is its match for reads.
var writes = []writeRule{
	{http.MethodPost, KindCollection, WriteCreate},
	{http.MethodPatch, KindEntity, WriteMerge},
	{http.MethodPut, KindEntity, WriteReplace},
	{"MERGE", KindEntity, WriteMerge},
	{http.MethodDelete, KindEntity, WriteDelete},
	{http.MethodPut, KindProperty, WriteSetProperty},
	{http.MethodDelete, KindProperty, WriteClearProperty},
}

// writeRule is one line of the write matrix.
type writeRule struct {
	method string
	on     Kind
	kind   WriteKind
}

// writeOptions are the query options a write takes: they shape its answer.
var writeOptions = map[string]bool{"$format": true, "$select": true}

// Allow is the Allow header for a kind of resource: the reads, and the
// writes the matrix has for it unless its set is read-only.
func Allow(k Kind, readOnly bool) string {
	methods := []string{http.MethodGet, http.MethodHead}
	for _, w := range writes {
		if w.on == k && !readOnly && !slices.Contains(methods, w.method) {
			methods = append(methods, w.method)
		}
	}
	return strings.Join(methods, ", ")
}

// Write decides what a method does to the resource p addresses, from the
// write matrix, and checks the query options a write takes; the body is
// bound afterwards (Bind), once the caller may write at all.
func (p *Plan) Write(method string, q *uri.Query) (*Write, *odata.Error) {
	if p.Kind == KindPropertyValue && (method == http.MethodPut || method == http.MethodDelete) {
		return nil, odata.NotImplemented("writing a raw $value; write the property with {\"value\": ...}")
	}
	i := slices.IndexFunc(writes, func(w writeRule) bool { return w.method == method && w.on == p.Kind })
	if i < 0 || p.Set == nil {
		e := odata.MethodNotAllowed(method, p.Kind.String())
		e.Allow = Allow(p.Kind, p.Set == nil || p.Set.ReadOnly)
		return nil, e
	}
	for _, name := range q.Present {
		if !writeOptions[name] {
			return nil, odata.BadRequest(odata.CodeBadRequest, "%s does not apply to a write", name).WithTarget(name)
		}
	}
	return &Write{Kind: writes[i].kind, Set: p.Set, Key: p.Key, property: p.Property}, nil
}

// NeedsBody says whether the write reads a request body.
func (w *Write) NeedsBody() bool { return w.Kind != WriteDelete && w.Kind != WriteClearProperty }

// Bind binds a create's or update's body (or a cleared property's null;
// a delete binds nothing). Every check that needs no
// database happens here, so that nothing invalid reaches SQL.
func (w *Write) Bind(body []byte) *odata.Error {
	switch w.Kind {
	case WriteCreate, WriteMerge, WriteReplace:
		values, err := decodeObject(body)
		if err != nil {
			return err
		}
		return w.bindEntity(values)
	case WriteSetProperty:
		values, err := decodeObject(body)
		if err != nil {
			return err
		}
		raw, ok := values["value"]
		if !ok || len(values) != 1 {
			return odata.BadRequest(odata.CodeBadRequest, "the body of a property update is {\"value\": ...}")
		}
		return w.bindOne(w.property, raw)
	case WriteClearProperty:
		return w.bindOne(w.property, nil)
	}
	return nil
}

// BuildWrite binds a whole write at once: its target, its kind and its
// body.
func BuildWrite(svc *metadata.Service, req *uri.Request, method string, body []byte) (*Write, *odata.Error) {
	p, err := Target(svc, req)
	if err != nil {
		return nil, err
	}
	w, err := p.Write(method, &req.Query)
	if err != nil {
		return nil, err
	}
	if err := w.Bind(body); err != nil {
		return nil, err
	}
	return w, nil
}

// decodeObject reads a JSON object, keeping numbers exact.
func decodeObject(body []byte) (map[string]any, *odata.Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, odata.BadRequest(odata.CodeBadRequest, "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, odata.BadRequest(odata.CodeSyntax, "the request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, odata.BadRequest(odata.CodeSyntax, "the request body holds more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, odata.BadRequest(odata.CodeBadRequest, "the request body must be a JSON object")
	}
	return obj, nil
}

func (w *Write) bindOne(p *metadata.Property, raw any) *odata.Error {
	if w.Set.Type.IsKey(p) || p.Computed {
		return propErr(p, "%s cannot be changed: it is %s", p.Name, keyOrComputed(w.Set, p))
	}
	v, err := ConvertJSON(p, raw)
	if err != nil {
		return err
	}
	w.Assign = []Assignment{{Prop: p, Value: v}}
	return nil
}

func keyOrComputed(es *metadata.EntitySet, p *metadata.Property) string {
	if es.Type.IsKey(p) {
		return "part of the key"
	}
	return "computed by the database"
}

func propErr(p *metadata.Property, format string, args ...any) *odata.Error {
	e := odata.BadRequest(odata.CodeInvalidValue, format, args...)
	e.Target = p.Name
	return e
}

// bindEntity checks every member of a JSON entity against the type.
func (w *Write) bindEntity(values map[string]any) *odata.Error {
	typ := w.Set.Type
	for name := range values {
		if strings.HasPrefix(name, "@") || strings.Contains(name, "@") {
			if strings.HasSuffix(name, "@odata.bind") {
				return odata.NotImplemented("binding navigation properties (@odata.bind)")
			}
			continue // control information and annotations carry nothing to store
		}
		if _, ok := typ.Property(name); !ok {
			e := odata.BadRequest(odata.CodeUnknownProperty, "%s has no property %s", typ.Name, name)
			e.Target = name
			return e
		}
	}
	for _, p := range typ.Properties {
		raw, given := values[p.Name]
		isKey := typ.IsKey(p)
		switch {
		case w.Kind == WriteCreate && p.Computed:
			if given && raw != nil {
				return propErr(p, "%s is computed by the database; leave it out when creating", p.Name)
			}
			continue
		case w.Kind == WriteCreate:
			// a key that is not computed must be given; other absent
			// properties take the column default
			if !given {
				if isKey {
					return propErr(p, "%s is part of the key and must be given", p.Name)
				}
				continue
			}
		case isKey || p.Computed:
			if given {
				v, err := ConvertJSON(p, raw)
				if err != nil {
					return err
				}
				if isKey {
					for _, kv := range w.Key {
						if kv.Prop == p && !sameValue(kv.Value, v) {
							return propErr(p, "%s is part of the key and cannot be changed (the URL says %s)", p.Name, format.Literal(kv.Value, p.Type))
						}
					}
					continue
				}
				w.Unchanged = append(w.Unchanged, Assignment{Prop: p, Value: v})
			}
			continue
		case !given:
			if w.Kind == WriteReplace {
				w.Assign = append(w.Assign, Assignment{Prop: p, Default: true})
			}
			continue
		}
		v, err := ConvertJSON(p, raw)
		if err != nil {
			return err
		}
		w.Assign = append(w.Assign, Assignment{Prop: p, Value: v})
	}
	if w.Kind != WriteCreate && len(w.Assign) == 0 && len(w.Unchanged) == 0 && len(values) == 0 {
		return odata.BadRequest(odata.CodeBadRequest, "the body names no property to change")
	}
	return nil
}

// sameValue compares two values of one Edm type.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		// decimals: 12.5 and 12.50 are the same number
		rx, ok1 := new(big.Rat).SetString(x)
		ry, ok2 := new(big.Rat).SetString(y)
		return ok1 && ok2 && rx.Cmp(ry) == 0
	}
	return a == b
}

// SameValue reports whether two values of one Edm type are equal.
func SameValue(a, b any) bool { return sameValue(a, b) }

// ConvertJSON converts a decoded JSON value to property p's type, checking
// nullability and facets. Errors name the property as their target.
func ConvertJSON(p *metadata.Property, raw any) (any, *odata.Error) {
	if raw == nil {
		if !p.Nullable {
			return nil, propErr(p, "%s cannot be empty", p.Name)
		}
		return nil, nil
	}
	switch p.Type {
	case metadata.Boolean:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, badValue(p, raw, "true or false")
	case metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64:
		return convertInteger(p, raw)
	case metadata.Decimal:
		text, ok := numberText(raw)
		if !ok {
			return nil, badValue(p, raw, "a number")
		}
		return checkDecimal(p, text)
	case metadata.Single, metadata.Double:
		return convertFloat(p, raw)
	case metadata.String:
		return convertString(p, raw)
	case metadata.GUID:
		s, ok := raw.(string)
		if !ok || !isGUID(strings.ToLower(s)) {
			return nil, badValue(p, raw, "a GUID such as 01234567-89ab-cdef-0123-456789abcdef")
		}
		return strings.ToLower(s), nil
	case metadata.Date:
		return convertDate(p, raw)
	case metadata.DateTimeOffset:
		s, ok := raw.(string)
		if !ok {
			return nil, badValue(p, raw, "a date and time such as 2024-01-31T13:45:00Z")
		}
		if l, ok := literalOf(s); ok && l.Kind == uri.LitDateTime {
			return l.Value.(time.Time).UTC(), nil
		}
		return nil, badValue(p, raw, "a date and time with an offset, such as 2024-01-31T13:45:00Z")
	case metadata.Binary:
		return convertBinary(p, raw)
	case metadata.TimeOfDay:
		s, ok := raw.(string)
		if !ok {
			return nil, badValue(p, raw, "a time of day such as 13:45:00")
		}
		if l, ok := literalOf(s); ok && l.Kind == uri.LitTimeOfDay {
			return time.Duration(l.Value.(uri.TimeOfDay)), nil
		}
		return nil, badValue(p, raw, "a time of day such as 13:45:00 or 13:45:00.5")
	}
	return nil, propErr(p, "%s has type %s, which cannot be written", p.Name, p.Type)
}

// badValue refuses a value that is not of the property's type, saying
// what it must be.
func badValue(p *metadata.Property, raw any, what string) *odata.Error {
	return propErr(p, "%s must be %s, not %s", p.Name, what, describe(raw))
}

// literalOf reads a JSON string as the OData literal it spells, if any.
func literalOf(s string) (*uri.Literal, bool) {
	e, err := uri.ParseExpression("value", s)
	if err != nil {
		return nil, false
	}
	l, ok := e.(*uri.Literal)
	return l, ok
}

func convertInteger(p *metadata.Property, raw any) (any, *odata.Error) {
	text, ok := numberText(raw)
	if !ok {
		return nil, badValue(p, raw, "a whole number")
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if r, ok := new(big.Rat).SetString(text); ok && r.IsInt() {
			return nil, propErr(p, "%s: %s is out of range for %s", p.Name, text, p.Type)
		}
		return nil, badValue(p, raw, "a whole number")
	}
	r := intRange[p.Type]
	if n < r[0] || n > r[1] {
		return nil, propErr(p, "%s: %d is out of range (%d to %d)", p.Name, n, r[0], r[1])
	}
	return n, nil
}

func convertFloat(p *metadata.Property, raw any) (any, *odata.Error) {
	switch x := raw.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || (p.Type == metadata.Single && math.Abs(f) > math.MaxFloat32) {
			return nil, propErr(p, "%s: %s is out of range for %s", p.Name, x, p.Type)
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "INF":
			return math.Inf(1), nil
		case "-INF":
			return math.Inf(-1), nil
		}
	}
	return nil, badValue(p, raw, "a number")
}

func convertString(p *metadata.Property, raw any) (any, *odata.Error) {
	s, ok := raw.(string)
	if !ok {
		return nil, badValue(p, raw, "text")
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return nil, propErr(p, "%s holds characters that cannot be stored", p.Name)
	}
	if p.MaxLength > 0 && utf8.RuneCountInString(s) > p.MaxLength {
		return nil, propErr(p, "%s is %d characters long; at most %d fit", p.Name, utf8.RuneCountInString(s), p.MaxLength)
	}
	return s, nil
}

func convertDate(p *metadata.Property, raw any) (any, *odata.Error) {
	s, ok := raw.(string)
	if !ok {
		return nil, badValue(p, raw, "a date such as 2024-01-31")
	}
	if l, ok := literalOf(s); ok {
		switch l.Kind {
		case uri.LitDate:
			return l.Value, nil
		case uri.LitDateTime:
			// Salesforce shows dates as date-times at midnight
			t := l.Value.(time.Time).UTC()
			if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
				return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
			}
			return nil, propErr(p, "%s is a date; %s has a time of day", p.Name, s)
		}
	}
	return nil, badValue(p, raw, "a date such as 2024-01-31")
}

func convertBinary(p *metadata.Property, raw any) (any, *odata.Error) {
	s, ok := raw.(string)
	if !ok {
		return nil, badValue(p, raw, "base64url text")
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if p.MaxLength > 0 && len(b) > p.MaxLength {
				return nil, propErr(p, "%s is %d bytes long; at most %d fit", p.Name, len(b), p.MaxLength)
			}
			return b, nil
		}
	}
	return nil, badValue(p, raw, "base64url text")
}

// numberText accepts a JSON number, or a numeric string (IEEE754Compatible
// clients send Int64 and Decimal as strings).
func numberText(raw any) (string, bool) {
	switch x := raw.(type) {
	case json.Number:
		return string(x), true
	case string:
		if _, ok := new(big.Rat).SetString(x); ok && x != "" && !strings.ContainsAny(x, "/ ") {
			return x, true
		}
	}
	return "", false
}

// checkDecimal normalises a decimal's text and checks precision and scale.
func checkDecimal(p *metadata.Property, text string) (any, *odata.Error) {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, propErr(p, "%s must be a number, not %q", p.Name, text)
	}
	if strings.ContainsAny(text, "eE") {
		// write exponents out, so the database gets plain digits
		text = r.FloatString(decimalPlaces(r))
	}
	neg := strings.HasPrefix(text, "-")
	digits := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(text, "-"), "+"), "0")
	intPart, frac, _ := strings.Cut(digits, ".")
	frac = strings.TrimRight(frac, "0")
	if p.ScaleSet && len(frac) > p.Scale {
		return nil, propErr(p, "%s has %d decimal places; at most %d fit", p.Name, len(frac), p.Scale)
	}
	if p.Precision > 0 && len(intPart) > p.Precision-p.Scale {
		return nil, propErr(p, "%s: %s is too large; at most %d digits before the decimal point fit", p.Name, text, p.Precision-p.Scale)
	}
	out := intPart
	if out == "" {
		out = "0"
	}
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, nil
}

func decimalPlaces(r *big.Rat) int {
	for n := 0; n < 1000; n++ {
		if new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil))).IsInt() {
			return n
		}
	}
	return 1000
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("the text %q", x)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return "the number " + string(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "that value"
}
