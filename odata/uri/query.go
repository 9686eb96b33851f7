package uri

import (
	"iter"
	"net/url"
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/odata"
)

// optionSupport says what the gateway does with each system query option.
type optionSupport int

const (
	supported optionSupport = iota
	notImplemented
)

var systemOptions = map[string]optionSupport{
	"$select": supported, "$filter": supported, "$orderby": supported, "$top": supported,
	"$skip": supported, "$count": supported, "$search": supported, "$format": supported,
	"$skiptoken": supported,
	"$expand":    notImplemented, "$apply": notImplemented, "$compute": notImplemented,
	"$levels": notImplemented, "$index": notImplemented, "$schemaversion": notImplemented,
	"$deltatoken": supported, "$id": notImplemented,
}

// Parse parses the escaped resource path below the service root and the raw
// query string of a request, within the default limits.
func Parse(escapedPath, rawQuery string) (*Request, *odata.Error) {
	return ParseWith(escapedPath, rawQuery, odata.DefaultLimits())
}

// ParseWith is Parse within the given limits.
func ParseWith(escapedPath, rawQuery string, lim odata.Limits) (*Request, *odata.Error) {
	if lim.MaxURLLength > 0 && len(escapedPath)+len(rawQuery) > lim.MaxURLLength {
		return nil, &odata.Error{Status: 414, Code: odata.CodeLimitExceeded,
			Message: "the URL is longer than " + itoaInt(lim.MaxURLLength) + " bytes; the gateway's administrator can raise this limit"}
	}
	segs, err := ParsePath(escapedPath)
	if err != nil {
		return nil, err
	}
	q, err := ParseQueryWith(rawQuery, lim)
	if err != nil && err.Target == "$id" && err.Status == 501 && !identifiesByID(segs) {
		return nil, odata.BadRequest(odata.CodeBadRequest, "$id applies to $entity and $ref requests only").WithTarget("$id")
	}
	if err != nil {
		return nil, err
	}
	return &Request{Segments: segs, Query: q}, nil
}

func itoaInt(n int) string { return strconv.Itoa(n) }

// identifiesByID reports a path that $id may complete: $entity, or a
// reference (.../$ref).
func identifiesByID(segs []Segment) bool {
	return len(segs) > 0 && (segs[0].Name == "$entity" || segs[len(segs)-1].Name == "$ref")
}

// canonicalOption maps an option name as written ($Filter, filter, ...) to
// its canonical form, or "" when it is not a system query option.
func canonicalOption(name string) string {
	l := strings.ToLower(name)
	if !strings.HasPrefix(l, "$") {
		l = "$" + l
	}
	if _, ok := systemOptions[l]; ok {
		return l
	}
	return ""
}

// Pair is one name=value pair of a raw query string, as the client wrote
// it (still percent-encoded).
type Pair struct {
	Raw               string // the whole pair
	RawName, RawValue string
	HasValue          bool // there was an '='
}

// Pairs walks a raw query string pair by pair, skipping empty ones: the
// one walk every reader of a query string makes (the parser, a nextLink's
// and a delta link's options), so that all of them read it alike.
func Pairs(raw string) iter.Seq[Pair] {
	return func(yield func(Pair) bool) {
		for pair := range strings.SplitSeq(raw, "&") {
			if pair == "" {
				continue
			}
			name, value, has := strings.Cut(pair, "=")
			if !yield(Pair{Raw: pair, RawName: name, RawValue: value, HasValue: has}) {
				return
			}
		}
	}
}

// Name is the pair's name decoded, or an error for a broken escape.
func (p Pair) Name() (string, error) { return url.PathUnescape(p.RawName) }

// Option is the system query option the pair sets, in its canonical
// spelling ("$top" for top, $TOP or %24top), or "" for a custom option, a
// parameter alias or a name with a broken escape.
func (p Pair) Option() string {
	name, err := p.Name()
	if err != nil {
		return ""
	}
	return canonicalOption(name)
}

// ParseQuery parses the raw (still percent-encoded) query string within
// the default limits.
func ParseQuery(raw string) (Query, *odata.Error) { return ParseQueryWith(raw, odata.DefaultLimits()) }

// ParseQueryWith is ParseQuery within the given limits.
func ParseQueryWith(raw string, lim odata.Limits) (Query, *odata.Error) {
	var q Query
	if raw == "" {
		return q, nil
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		return q, odata.SyntaxError("query", i, "'#' must be percent-encoded as %%23 in a query string")
	}
	seen := map[string]bool{}
	for pair := range Pairs(raw) {
		rawName, rawValue, hasValue := pair.RawName, pair.RawValue, pair.HasValue
		name, err := pair.Name()
		if err != nil {
			return q, odata.BadRequest(odata.CodeSyntax, "query option %q has a malformed percent-encoding", rawName)
		}
		value, err := url.PathUnescape(rawValue)
		if err != nil {
			return q, odata.BadRequest(odata.CodeSyntax, "the value of %s has a malformed percent-encoding", name)
		}
		canon := canonicalOption(name)
		if canon == "$search" && strings.Contains(rawValue, ";") {
			return q, odata.SyntaxError(canon, strings.IndexByte(rawValue, ';'), "';' must be percent-encoded as %%3B in $search")
		}
		if canon == "" {
			if strings.HasPrefix(name, "$") {
				return q, odata.BadRequest(odata.CodeBadRequest, "%s is not an OData system query option", name).WithTarget(name)
			}
			// a parameter alias definition (@name) is refused where it is used;
			// custom query options are the service's to ignore
			continue
		}
		if seen[canon] {
			// the grammar allows repetition; the protocol does not, which the planner reports
			q.Duplicates = append(q.Duplicates, canon)
			continue
		}
		seen[canon] = true
		q.Present = append(q.Present, canon)
		if systemOptions[canon] == notImplemented {
			return q, odata.NotImplemented(canon).WithTarget(canon)
		}
		if !hasValue || value == "" {
			return q, odata.SyntaxError(canon, 0, "%s needs a value", canon)
		}
		if perr := q.setOption(canon, value, lim); perr != nil {
			return q, perr
		}
	}
	return q, nil
}

func (q *Query) setOption(name, value string, lim odata.Limits) *odata.Error {
	var err *odata.Error
	switch name {
	case "$filter", "$orderby":
		if value[0] == ' ' || value[0] == '\t' {
			return odata.SyntaxError(name, 0, "%s must not start with a space", name)
		}
	}
	switch name {
	case "$filter":
		q.Filter, err = parseExpression(name, value, lim)
	case "$orderby":
		q.OrderBy, err = parseOrderBy(name, value, lim)
		if err == nil && len(q.OrderBy) > lim.MaxOrderByItems {
			err = odata.LimitExceeded(name, "$orderby has more than %d items", lim.MaxOrderByItems)
		}
	case "$select":
		q.Select, err = ParseSelect(name, value)
		if err == nil && len(q.Select) > lim.MaxSelectItems {
			err = odata.LimitExceeded(name, "$select has more than %d items", lim.MaxSelectItems)
		}
		q.HasSelect = true
	case "$top":
		q.Top, err = parseNonNegative(name, value)
		if err == nil && lim.MaxTop > 0 && *q.Top > lim.MaxTop {
			err = odata.LimitExceeded(name, "$top may be at most %d; page through larger results with the nextLink", lim.MaxTop)
		}
	case "$skip":
		q.Skip, err = parseNonNegative(name, value)
	case "$count":
		switch strings.ToLower(value) {
		case "true":
			b := true
			q.Count = &b
		case "false":
			b := false
			q.Count = &b
		default:
			err = odata.SyntaxError(name, 0, "$count takes true or false, not %q", value)
		}
	case "$search":
		q.Search, err = parseSearch(name, value, lim.MaxSearchTerms)
	case "$format":
		q.Format = value
	case "$skiptoken":
		q.SkipToken = value
	case "$deltatoken":
		q.DeltaToken = value
	}
	return err
}

func parseNonNegative(name, value string) (*int64, *odata.Error) {
	for i := 0; i < len(value); i++ {
		if !isDigit(value[i]) {
			return nil, odata.SyntaxError(name, i, "%s takes a whole number of zero or more, not %q", name, value)
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return nil, odata.SyntaxError(name, 0, "%s value %s is too large", name, value)
	}
	return &n, nil
}

// ParseSelect parses a $select value into items.
func ParseSelect(option, text string) ([]SelectItem, *odata.Error) {
	var items []SelectItem
	pos := 0
	for _, part := range splitTopLevel(text, ',') {
		raw := part
		trimmed := strings.TrimLeft(raw, " ")
		p := pos + len(raw) - len(trimmed)
		item := strings.TrimRight(trimmed, " ")
		pos += len(raw) + 1
		switch {
		case item == "":
			return nil, odata.SyntaxError(option, p, "empty item in $select")
		case item == "*":
			items = append(items, SelectItem{Pos: p, Star: true})
			continue
		case strings.HasSuffix(item, ".*"):
			return nil, odata.NotImplemented("selecting all operations of a schema (" + item + ")").WithTarget(option)
		case strings.Contains(item, "("):
			if at, ok := balanced(text, 0); !ok {
				return nil, odata.SyntaxError(option, at, "unbalanced parentheses")
			}
			return nil, odata.NotImplemented("nested query options in $select").WithTarget(option)
		}
		segs := strings.Split(item, "/")
		for _, s := range segs {
			if !isIdentifier(s) {
				if strings.HasPrefix(s, "@") {
					return nil, odata.NotImplemented("selecting annotations").WithTarget(option)
				}
				if strings.Contains(s, ".") && isQualifiedName(s) {
					continue // a type cast or an operation: the planner knows whether one can be meant
				}
				return nil, odata.SyntaxError(option, p, "%q is not a property name", s)
			}
		}
		items = append(items, SelectItem{Pos: p, Path: segs})
	}
	return items, nil
}

func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// isIdentifier reports an OData simple identifier.
func isIdentifier(s string) bool {
	if s == "" || !isIdentStart(s) {
		return false
	}
	l := newLexer("", s)
	t, err := l.scanWord()
	return err == nil && t.kind == tkIdent && t.text == s && !strings.Contains(s, ".")
}

func isQualifiedName(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return true
}
