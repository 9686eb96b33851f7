package uri

import (
	"net/url"
	"strings"

	"github.com/odatagw/odatagw/odata"
)

// ParsePath parses the still-escaped resource path below the service root
// ("Customers(42)/Name"). It splits on '/' before decoding, so that keys may
// hold an encoded slash (%2F).
func ParsePath(escaped string) ([]Segment, *odata.Error) {
	escaped = strings.TrimPrefix(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	var segs []Segment
	pos := 0
	parts := strings.Split(escaped, "/")
	for i, raw := range parts {
		if raw == "" {
			if i == len(parts)-1 {
				break // a trailing slash
			}
			return nil, odata.SyntaxError("path", pos, "empty path segment")
		}
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return nil, odata.SyntaxError("path", pos, "malformed percent-encoding in %q", raw)
		}
		if len(segs) > 0 && keyAsSegment(segs[len(segs)-1], seg) {
			s := Segment{Pos: pos, Name: seg, KeyAsSegment: true}
			if keys, err := parseKey(seg, pos); err == nil && len(keys) == 1 && keys[0].Name == "" {
				s.Key = keys
			}
			segs = append(segs, s)
			pos += len(raw) + 1
			continue
		}
		if len(segs) > 0 && isTerminal(segs[len(segs)-1].Name) {
			return nil, odata.SyntaxError("path", pos, "nothing may follow %s in the path", segs[len(segs)-1].Name)
		}
		s, perr := parseSegment(seg, pos)
		if perr != nil {
			return nil, perr
		}
		segs = append(segs, s)
		pos += len(raw) + 1
	}
	return segs, nil
}

// isTerminal reports path segments after which nothing may follow.
func isTerminal(name string) bool {
	return name == "$count" || name == "$value" || name == "$ref" || name == "$metadata" || name == "$batch"
}

func parseSegment(seg string, pos int) (Segment, *odata.Error) {
	name, rest, hasParen := strings.Cut(seg, "(")
	s := Segment{Pos: pos, Name: name}
	if name == "" {
		return s, odata.SyntaxError("path", pos, "a path segment must start with a name")
	}
	if strings.HasPrefix(name, "$") {
		switch name {
		case "$metadata", "$batch", "$count", "$value", "$ref", "$each", "$all", "$entity", "$crossjoin", "$filter", "$query", "$root":
		default:
			return s, odata.SyntaxError("path", pos, "%s is not an OData path segment", name)
		}
		if hasParen {
			return s, odata.NotImplemented(name + "(...) in the resource path")
		}
		return s, nil
	}
	if !isIdentifier(name) && !isQualifiedName(name) {
		return s, odata.SyntaxError("path", pos, "%q is not a valid name", name)
	}
	if !hasParen {
		return s, nil
	}
	if at, ok := balanced(rest, 1); !ok {
		return s, odata.SyntaxError("path", pos+len(name)+1+at, "unbalanced parentheses in %s", seg)
	}
	if !strings.HasSuffix(rest, ")") {
		return s, odata.SyntaxError("path", pos+len(seg), "the key of %s is not closed with ')'", name)
	}
	if rest == ")" {
		s.Call = true
		return s, nil
	}
	if first, _, _ := strings.Cut(rest, ")("); first != rest {
		// func(p=1)(2) calls a function and picks from its result; a key
		// alone, Customers(1)(2), is followed by nothing of the kind
		if keys, err := parseKey(first, pos+len(name)+1); err == nil && len(keys) == 1 && keys[0].Name == "" {
			return s, odata.SyntaxError("path", pos+len(name)+len(first)+2, "%s(%s) is one entity; no parentheses may follow its key", name, first)
		}
		return s, odata.NotImplemented("a key after a function call in the resource path")
	}
	keys, err := parseKey(rest[:len(rest)-1], pos+len(name)+1)
	if err != nil {
		return s, err
	}
	s.Key = keys
	return s, nil
}

// keyAsSegment reports whether seg can be a key written as a segment of
// its own (Customers/42, People/O'Neil): it is no name, and follows what
// may be a collection. After a key, a property or a $-segment it cannot.
func keyAsSegment(prev Segment, seg string) bool {
	if (prev.Key != nil && !prev.KeyAsSegment) || prev.Call || strings.HasPrefix(prev.Name, "$") || strings.HasPrefix(seg, "$") {
		return false // a compound key as segments: OrderItems/2001/1
	}
	name := strings.SplitN(seg, "(", 2)[0]
	return !isIdentifier(name) && !isQualifiedName(name)
}

// balanced checks the parentheses of s, outside quoted strings, starting
// at depth open; at is where the first excess ')' stands, or len(s).
func balanced(s string, open int) (at int, ok bool) {
	depth, quoted := open, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted // '' inside a string toggles twice
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return i, false
			}
		}
	}
	return len(s), depth == 0 && !quoted
}

// parseKey reads "1", "'a”b'" or "k1=1,k2='x'".
func parseKey(text string, offset int) ([]KeyValue, *odata.Error) {
	if strings.TrimSpace(text) == "" {
		return nil, odata.SyntaxError("key", offset, "empty key")
	}
	lx := newLexer("key", text)
	var keys []KeyValue
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		var kv KeyValue
		if t.kind == tkIdent {
			eq, err := lx.next()
			if err != nil {
				return nil, err
			}
			if eq.kind != tkEquals {
				if strings.HasPrefix(t.text, "@") {
					return nil, odata.NotImplemented("parameter alias " + t.text + " as a key")
				}
				return nil, odata.SyntaxError("key", offset+t.pos, "expected '=' after key name %s, or a literal value", t.text)
			}
			kv.Name = t.text
			if t, err = lx.next(); err != nil {
				return nil, err
			}
			if t.kind == tkIdent && strings.HasPrefix(t.text, "@") {
				return nil, odata.NotImplemented("parameter alias " + t.text + " as a key value")
			}
		} else if len(keys) > 0 {
			return nil, odata.SyntaxError("key", offset+t.pos, "every part of a compound key needs a name: k1=1,k2=2")
		}
		if t.kind == tkMinus {
			return nil, odata.SyntaxError("key", offset+t.pos, "malformed key value")
		}
		if t.kind != tkLiteral {
			return nil, odata.SyntaxError("key", offset+t.pos, "a key value must be a literal such as 42 or 'text'")
		}
		kv.Value = t.lit
		keys = append(keys, kv)
		sep, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch sep.kind {
		case tkEOF:
			if len(keys) > 1 && keys[0].Name == "" {
				return nil, odata.SyntaxError("key", offset, "every part of a compound key needs a name: k1=1,k2=2")
			}
			return keys, nil
		case tkComma:
			if kv.Name == "" {
				return nil, odata.SyntaxError("key", offset+sep.pos, "every part of a compound key needs a name: k1=1,k2=2")
			}
		default:
			return nil, odata.SyntaxError("key", offset+sep.pos, "unexpected %q in key", sep.text)
		}
	}
}
