package uri

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/odatagw/odatagw/odata"
)

type tokenKind int

const (
	tkEOF tokenKind = iota
	tkIdent
	tkLiteral
	tkLParen
	tkRParen
	tkComma
	tkSlash
	tkColon
	tkEquals
	tkStar
	tkMinus
	tkJSON // '[' or '{': JSON array or object literal
)

type token struct {
	kind tokenKind
	pos  int
	text string
	lit  *Literal
	// spaceBefore records whether whitespace preceded the token; the grammar
	// requires it before and after word operators.
	spaceBefore bool
}

// lexer turns one decoded option value into tokens. It reads literals
// greedily in the order the ABNF lists them: guid before identifier,
// date-time before date, date before number.
type lexer struct {
	option string // the option being lexed, for messages
	src    string
	pos    int
	peeked *token
}

func newLexer(option, src string) *lexer { return &lexer{option: option, src: src} }

func (l *lexer) errorf(pos int, format string, args ...any) *odata.Error {
	return odata.SyntaxError(l.option, pos, format, args...)
}

// isSpace reports whitespace between tokens. A '+' there is a space encoded
// the form way, which many HTTP client libraries do.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '+' }

func (l *lexer) peek() (token, *odata.Error) {
	if l.peeked == nil {
		t, err := l.scan()
		if err != nil {
			return token{}, err
		}
		l.peeked = &t
	}
	return *l.peeked, nil
}

func (l *lexer) next() (token, *odata.Error) {
	t, err := l.peek()
	l.peeked = nil
	return t, err
}

func (l *lexer) scan() (token, *odata.Error) {
	start := l.pos
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	space := l.pos > start
	if l.pos >= len(l.src) {
		return token{kind: tkEOF, pos: l.pos, spaceBefore: space}, nil
	}
	t, err := l.scanToken()
	t.spaceBefore = space
	return t, err
}

// singleCharTokens maps the punctuation that forms a token by itself.
var singleCharTokens = [256]tokenKind{'(': tkLParen, ')': tkRParen, ',': tkComma, '/': tkSlash,
	':': tkColon, '=': tkEquals, '*': tkStar, '[': tkJSON, '{': tkJSON}

func (l *lexer) scanToken() (token, *odata.Error) {
	p := l.pos
	c := l.src[p]
	if k := singleCharTokens[c]; k != tkEOF {
		l.pos++
		return token{kind: k, pos: p, text: string(c)}, nil
	}
	switch {
	case c == '\'':
		return l.scanString()
	case c == '-' && p+1 < len(l.src) && (isDigit(l.src[p+1]) || hasPrefixAt(l.src, p+1, "INF")):
		return l.scanNumberLike()
	case c == '-':
		l.pos++
		return token{kind: tkMinus, pos: p, text: "-"}, nil
	case isDigit(c):
		if n := guidLen(l.src[p:]); n > 0 {
			return l.literal(p, n)
		}
		return l.scanNumberLike()
	case c == '$' || c == '@' || isIdentStart(l.src[p:]):
		if n := guidLen(l.src[p:]); n > 0 {
			return l.literal(p, n)
		}
		return l.scanWord()
	}
	r, _ := utf8.DecodeRuneInString(l.src[p:])
	return token{}, l.errorf(p, "unexpected character %q", r)
}

func (l *lexer) literal(p, n int) (token, *odata.Error) {
	lit, err := parseLiteralText(l.src[p : p+n])
	if err != nil {
		return token{}, l.errorf(p, "%s", err.Error())
	}
	lit.Pos = p
	l.pos = p + n
	if err := l.requireDelimiter(); err != nil {
		return token{}, err
	}
	return token{kind: tkLiteral, pos: p, text: lit.Text, lit: lit}, nil
}

// requireDelimiter rejects a literal glued to the next word, such as 12abc.
func (l *lexer) requireDelimiter() *odata.Error {
	if l.pos < len(l.src) {
		r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '\'' {
			return l.errorf(l.pos, "unexpected character %q after literal", r)
		}
	}
	return nil
}

func (l *lexer) scanString() (token, *odata.Error) {
	p := l.pos
	var b []byte
	i := p + 1
	for {
		if i >= len(l.src) {
			return token{}, l.errorf(p, "string literal is not closed; a quote inside a string is written as two quotes ('')")
		}
		if l.src[i] == '\'' {
			if i+1 < len(l.src) && l.src[i+1] == '\'' {
				b = append(b, '\'')
				i += 2
				continue
			}
			break
		}
		b = append(b, l.src[i])
		i++
	}
	l.pos = i + 1
	if !utf8.Valid(b) {
		return token{}, l.errorf(p, "string literal is not valid UTF-8")
	}
	lit := &Literal{Pos: p, Kind: LitString, Value: string(b), Text: l.src[p:l.pos]}
	return token{kind: tkLiteral, pos: p, text: lit.Text, lit: lit}, nil
}

// scanNumberLike reads a date-time, date, time of day or number.
func (l *lexer) scanNumberLike() (token, *odata.Error) {
	p := l.pos
	n := temporalOrNumberLen(l.src[p:])
	if n == 0 {
		return token{}, l.errorf(p, "malformed number")
	}
	if typeSuffix(l.src[p:], n) {
		// 42L, 0.5D, 1.5M, 2F: OData 2.0 spelled a number's type after
		// it, and some clients still do; nothing else can be meant, so
		// the number is read as it is and the suffix dropped
		lit, err := parseLiteralText(l.src[p : p+n])
		if err != nil {
			return token{}, l.errorf(p, "%s", err.Error())
		}
		lit.Pos = p
		l.pos = p + n + 1
		return token{kind: tkLiteral, pos: p, text: lit.Text, lit: lit}, l.requireDelimiter()
	}
	return l.literal(p, n)
}

// typeSuffix reports an OData 2.0 type suffix (L, M, D, F in either case)
// right after the n-byte number at the start of s, and not the start of a
// longer word; L only after a whole number.
func typeSuffix(s string, n int) bool {
	if n >= len(s) || strings.ContainsAny(s[:n], ":T") || strings.Count(s[:n], "-") > 1 {
		return false // dates and times take no suffix
	}
	switch s[n] {
	case 'L', 'l':
		if strings.ContainsAny(s[:n], ".eE") || strings.HasSuffix(s[:n], "INF") {
			return false
		}
	case 'M', 'm', 'D', 'd', 'F', 'f':
		if strings.HasSuffix(s[:n], "INF") {
			return false
		}
	default:
		return false
	}
	if n+1 < len(s) {
		r, _ := utf8.DecodeRuneInString(s[n+1:])
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '\'' {
			return false
		}
	}
	return true
}

func (l *lexer) scanWord() (token, *odata.Error) {
	p := l.pos
	i := p
	if l.src[i] == '$' || l.src[i] == '@' {
		i++
	}
	for i < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[i:])
		if r == '#' && l.src[p] == '@' {
			i++
			continue
		}
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r) {
			i += size
			continue
		}
		// a dot continues a qualified name when a name character follows
		if r == '.' && i+1 < len(l.src) && isIdentStart(l.src[i+1:]) {
			i++
			continue
		}
		break
	}
	word := l.src[p:i]
	l.pos = i
	if word == "$" || word == "@" {
		return token{}, l.errorf(p, "%q must be followed by a name", word)
	}
	// a word glued to a quote is a typed literal: duration'P1D', binary'..', geography'..', Namespace.Enum'Member'
	if i < len(l.src) && l.src[i] == '\'' {
		return l.scanTypedLiteral(p, word)
	}
	switch word {
	case "null", "true", "false", "INF", "NaN":
		lit, _ := parseLiteralText(word)
		lit.Pos = p
		return token{kind: tkLiteral, pos: p, text: word, lit: lit}, nil
	}
	if (word == "True" || word == "FALSE" || word == "TRUE" || word == "False") && l.nextIsOperatorBoundary() {
		lit, _ := parseLiteralText(toLowerASCII(word))
		lit.Pos = p
		return token{kind: tkLiteral, pos: p, text: word, lit: lit}, nil
	}
	return token{kind: tkIdent, pos: p, text: word}, nil
}

func (l *lexer) nextIsOperatorBoundary() bool {
	return l.pos >= len(l.src) || isSpace(l.src[l.pos]) || l.src[l.pos] == ')' || l.src[l.pos] == ','
}

func (l *lexer) scanTypedLiteral(p int, prefix string) (token, *odata.Error) {
	str, err := l.scanString()
	if err != nil {
		return token{}, err
	}
	body := str.lit.Value.(string)
	text := l.src[p:l.pos]
	switch toLowerASCII(prefix) {
	case "duration", "edm.duration":
		d, ok := parseDuration(body)
		if !ok {
			return token{}, l.errorf(p, "malformed duration %s; write it as duration'P1DT2H3M4.5S'", text)
		}
		return token{kind: tkLiteral, pos: p, text: text, lit: &Literal{Pos: p, Kind: LitDuration, Value: d, Text: text}}, nil
	case "binary":
		b, ok := decodeBinary(body)
		if !ok {
			return token{}, l.errorf(p, "malformed binary literal %s; write it as binary'<base64url>'", text)
		}
		return token{kind: tkLiteral, pos: p, text: text, lit: &Literal{Pos: p, Kind: LitBinary, Value: b, Text: text}}, nil
	case "geography", "geometry":
		return token{}, odata.NotImplemented("geospatial literal " + prefix + "'...'").WithTarget(l.option)
	}
	if strings.Contains(prefix, ".") {
		return token{}, odata.NotImplemented("enumeration literal " + prefix + "'...'").WithTarget(l.option)
	}
	return token{}, l.errorf(p, "%s'...' is not a literal of OData; a string is written in single quotes alone", prefix)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

func hasPrefixAt(s string, i int, prefix string) bool {
	return len(s)-i >= len(prefix) && s[i:i+len(prefix)] == prefix
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
