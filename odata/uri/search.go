package uri

import (
	"strings"

	"github.com/odatagw/odatagw/odata"
)

// ParseSearch parses a $search value: words and "quoted phrases" combined
// with AND (also implied by a space), OR, NOT and parentheses. AND binds
// tighter than OR; operators are upper case, as the grammar says.
func ParseSearch(option, text string) (*SearchNode, *odata.Error) {
	return parseSearch(option, text, odata.DefaultLimits().MaxSearchTerms)
}

func parseSearch(option, text string, maxTerms int) (*SearchNode, *odata.Error) {
	s := &searchParser{option: option, src: text, maxTerms: maxTerms}
	if t := strings.TrimSpace(text); len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
		// the grammar's "incomplete" form: one single-quoted phrase
		phrase := strings.ReplaceAll(t[1:len(t)-1], "''", "'")
		if strings.TrimSpace(phrase) == "" {
			return nil, odata.SyntaxError(option, 0, "$search needs at least one word")
		}
		return &SearchNode{Op: "term", Text: phrase}, nil
	}
	if err := s.tokenize(); err != nil {
		return nil, err
	}
	if len(s.toks) == 0 {
		return nil, odata.SyntaxError(option, 0, "$search needs at least one word")
	}
	n, err := s.parseOr()
	if err != nil {
		return nil, err
	}
	if s.i < len(s.toks) {
		return nil, odata.SyntaxError(option, s.toks[s.i].pos, "unexpected %q in $search", s.toks[s.i].text)
	}
	return n, nil
}

type searchToken struct {
	pos    int
	text   string
	phrase bool
}

type searchParser struct {
	option   string
	src      string
	toks     []searchToken
	i        int
	terms    int
	maxTerms int
}

func (s *searchParser) tokenize() *odata.Error {
	src := s.src
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '+':
			i++
		case c == '(' || c == ')':
			s.toks = append(s.toks, searchToken{pos: i, text: string(c)})
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' && j+1 < len(src) && (src[j+1] == '"' || src[j+1] == '\\') {
					j++
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return odata.SyntaxError(s.option, i, "phrase is not closed with a double quote")
			}
			if strings.TrimSpace(b.String()) == "" {
				return odata.SyntaxError(s.option, i, "empty phrase")
			}
			if j+1 < len(src) && !strings.ContainsRune(" \t+)", rune(src[j+1])) {
				return odata.SyntaxError(s.option, j+1, "a phrase must be followed by a space or ')'")
			}
			s.toks = append(s.toks, searchToken{pos: i, text: b.String(), phrase: true})
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t+()\"", rune(src[j])) {
				j++
			}
			s.toks = append(s.toks, searchToken{pos: i, text: src[i:j]})
			i = j
		}
	}
	return nil
}

func (s *searchParser) peekOp(op string) bool {
	return s.i < len(s.toks) && !s.toks[s.i].phrase && s.toks[s.i].text == op
}

// operandFollows reports whether a search expression can start after
// token i; AND, OR and NOT are operators only then, and words otherwise.
func (s *searchParser) operandFollows(i int) bool {
	if i+1 >= len(s.toks) {
		return false
	}
	n := s.toks[i+1]
	return n.phrase || n.text != ")"
}

func (s *searchParser) peekBinary(op string) bool {
	return s.peekOp(op) && s.operandFollows(s.i)
}

func (s *searchParser) parseOr() (*SearchNode, *odata.Error) {
	left, err := s.parseAnd()
	if err != nil {
		return nil, err
	}
	for s.peekBinary("OR") {
		s.i++
		right, err := s.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &SearchNode{Op: "or", Children: []*SearchNode{left, right}}
	}
	return left, nil
}

func (s *searchParser) parseAnd() (*SearchNode, *odata.Error) {
	left, err := s.parseUnary()
	if err != nil {
		return nil, err
	}
	for s.i < len(s.toks) && !s.peekBinary("OR") && !s.peekOp(")") {
		if s.peekBinary("AND") {
			s.i++
		}
		right, err := s.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &SearchNode{Op: "and", Children: []*SearchNode{left, right}}
	}
	return left, nil
}

func (s *searchParser) parseUnary() (*SearchNode, *odata.Error) {
	if s.i >= len(s.toks) {
		return nil, odata.SyntaxError(s.option, len(s.src), "$search ends where a word was expected")
	}
	t := s.toks[s.i]
	s.i++
	if !t.phrase {
		switch t.text {
		case "NOT":
			if !s.operandFollows(s.i - 1) {
				break
			}
			operand, err := s.parseUnary()
			if err != nil {
				return nil, err
			}
			return &SearchNode{Op: "not", Children: []*SearchNode{operand}}, nil
		case "(":
			n, err := s.parseOr()
			if err != nil {
				return nil, err
			}
			if !s.peekOp(")") {
				return nil, odata.SyntaxError(s.option, t.pos, "parenthesis is not closed")
			}
			s.i++
			return n, nil
		case ")":
			return nil, odata.SyntaxError(s.option, t.pos, "unexpected ')' in $search")
		}
	}
	s.terms++
	if s.terms > s.maxTerms {
		return nil, odata.LimitExceeded(s.option, "$search has more than %d terms", s.maxTerms)
	}
	return &SearchNode{Op: "term", Text: t.text}, nil
}
