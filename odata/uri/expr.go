package uri

import (
	"strings"

	"github.com/odatagw/odatagw/odata"
)

// functionArity lists the canonical functions of OData 4.01 with the number
// of arguments each takes (min, max). Which of them the gateway can execute
// is the planner's business; the parser only checks the shape.
var functionArity = map[string][2]int{
	"contains": {2, 2}, "startswith": {2, 2}, "endswith": {2, 2}, "length": {1, 1},
	"indexof": {2, 2}, "substring": {2, 3}, "tolower": {1, 1}, "toupper": {1, 1},
	"trim": {1, 1}, "concat": {2, 2}, "matchespattern": {2, 2},
	"year": {1, 1}, "month": {1, 1}, "day": {1, 1}, "hour": {1, 1}, "minute": {1, 1},
	"second": {1, 1}, "fractionalseconds": {1, 1}, "totalseconds": {1, 1}, "date": {1, 1},
	"time": {1, 1}, "totaloffsetminutes": {1, 1}, "now": {0, 0}, "mindatetime": {0, 0},
	"maxdatetime": {0, 0}, "round": {1, 1}, "floor": {1, 1}, "ceiling": {1, 1},
	"geo.distance": {2, 2}, "geo.length": {1, 1}, "geo.intersects": {2, 2},
	"hassubset": {2, 2}, "hassubsequence": {2, 2},
}

// operator precedence levels, loosest first; each lists its word operators.
var binaryLevels = [][]string{
	{"or"},
	{"and"},
	{"eq", "ne"},
	{"gt", "ge", "lt", "le", "has", "in"},
	{"add", "sub"},
	{"mul", "div", "divby", "mod"},
}

type exprParser struct {
	lx       *lexer
	depth    int
	maxDepth int
}

// ParseExpression parses a whole $filter (or other) expression within the
// default limits.
func ParseExpression(option, text string) (Node, *odata.Error) {
	return parseExpression(option, text, odata.DefaultLimits())
}

func parseExpression(option, text string, lim odata.Limits) (Node, *odata.Error) {
	p := &exprParser{lx: newLexer(option, text), maxDepth: lim.MaxFilterDepth}
	n, err := p.parseLevel(0)
	if err != nil {
		return nil, err
	}
	if err := p.expectEOF(); err != nil {
		return nil, err
	}
	return n, nil
}

// ParseOrderBy parses a $orderby value: expressions with optional asc/desc.
func ParseOrderBy(option, text string) ([]OrderItem, *odata.Error) {
	return parseOrderBy(option, text, odata.DefaultLimits())
}

func parseOrderBy(option, text string, lim odata.Limits) ([]OrderItem, *odata.Error) {
	p := &exprParser{lx: newLexer(option, text), maxDepth: lim.MaxFilterDepth}
	var items []OrderItem
	for {
		n, err := p.parseLevel(0)
		if err != nil {
			return nil, err
		}
		item := OrderItem{Expr: n}
		t, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == tkIdent && t.spaceBefore && (t.text == "asc" || t.text == "desc") {
			p.lx.next()
			item.Desc = t.text == "desc"
			if t, err = p.lx.peek(); err != nil {
				return nil, err
			}
		}
		items = append(items, item)
		switch t.kind {
		case tkEOF:
			return items, nil
		case tkComma:
			p.lx.next()
		default:
			return nil, p.unexpected(t, "expected asc, desc, a comma or the end of $orderby")
		}
	}
}

func (p *exprParser) expectEOF() *odata.Error {
	t, err := p.lx.peek()
	if err != nil {
		return err
	}
	if t.kind != tkEOF {
		return p.unexpected(t, "expected an operator or the end of the expression")
	}
	return nil
}

func (p *exprParser) unexpected(t token, hint string) *odata.Error {
	switch {
	case t.kind == tkEOF:
		return p.lx.errorf(t.pos, "unexpected end of text; %s", hint)
	case t.kind == tkEquals || (t.kind == tkIdent && (t.text == "!=" || t.text == "<" || t.text == ">")):
		return p.lx.errorf(t.pos, "unexpected %q; comparisons are written eq, ne, gt, ge, lt, le", t.text)
	}
	return p.lx.errorf(t.pos, "unexpected %q; %s", t.text, hint)
}

func isWordOp(t token, ops []string) (string, bool) {
	if t.kind != tkIdent || !t.spaceBefore {
		return "", false
	}
	lw := strings.ToLower(t.text)
	for _, op := range ops {
		if lw == op {
			return op, true
		}
	}
	return "", false
}

func (p *exprParser) parseLevel(level int) (Node, *odata.Error) {
	if level == len(binaryLevels) {
		return p.parseUnary()
	}
	left, err := p.parseLevel(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		op, ok := isWordOp(t, binaryLevels[level])
		if !ok {
			return left, nil
		}
		p.lx.next()
		if err := p.requireSpace(op); err != nil {
			return nil, err
		}
		if op == "in" {
			list, err := p.parseInList()
			if err != nil {
				return nil, err
			}
			left = &In{Pos: t.pos, Left: left, List: list}
			continue
		}
		right, err := p.parseLevel(level + 1)
		if err != nil {
			return nil, err
		}
		left = &Binary{Pos: t.pos, Op: op, Left: left, Right: right}
	}
}

// requireSpace enforces the whitespace the grammar demands after a word operator.
func (p *exprParser) requireSpace(op string) *odata.Error {
	t, err := p.lx.peek()
	if err != nil {
		return err
	}
	if !t.spaceBefore {
		if t.kind == tkEOF {
			return p.lx.errorf(t.pos, "operator %q needs an operand after it", op)
		}
		return p.lx.errorf(t.pos, "operator %q must be followed by a space", op)
	}
	return nil
}

func (p *exprParser) parseInList() ([]Node, *odata.Error) {
	t, err := p.lx.peek()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tkJSON:
		return nil, odata.NotImplemented("a JSON array after 'in'").WithTarget(p.lx.option)
	case tkLParen:
	default:
		return nil, odata.NotImplemented("'in' with a collection-valued expression").WithTarget(p.lx.option)
	}
	p.lx.next()
	var list []Node
	for {
		t, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == tkRParen && len(list) == 0 {
			p.lx.next()
			return list, nil
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if len(list) > 0 && !isLiteralNode(list[0]) {
			return nil, p.lx.errorf(list[0].Position(), "the list after 'in' may only hold literal values")
		}
		if len(list) > 0 && !isLiteralNode(n) {
			return nil, p.lx.errorf(n.Position(), "the list after 'in' may only hold literal values")
		}
		list = append(list, n)
		t, err = p.lx.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tkComma:
		case tkRParen:
			// a one-element list may be any expression in parentheses
			return list, nil
		default:
			return nil, p.unexpected(t, "expected a comma or ')' in the list after 'in'")
		}
	}
}

func (p *exprParser) parseUnary() (Node, *odata.Error) {
	p.depth++
	defer func() { p.depth-- }()
	t, err := p.lx.peek()
	if err != nil {
		return nil, err
	}
	if p.depth > p.maxDepth {
		return nil, odata.LimitExceeded(p.lx.option, "%s is nested more than %d levels deep (at position %d)", p.lx.option, p.maxDepth, t.pos+1)
	}
	if t.kind == tkMinus {
		p.lx.next()
		operand, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: t.pos, Op: "-", Operand: operand}, nil
	}
	if t.kind == tkIdent && strings.EqualFold(t.text, "not") {
		p.lx.next()
		nt, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		if nt.kind == tkEOF || (!nt.spaceBefore && nt.kind != tkLParen) {
			return nil, p.unexpected(nt, "'not' must be followed by a space and an expression")
		}
		operand, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Unary{Pos: t.pos, Op: "not", Operand: operand}, nil
	}
	return p.parsePrimary()
}

func (p *exprParser) parsePrimary() (Node, *odata.Error) {
	t, err := p.lx.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tkLiteral:
		return t.lit, nil
	case tkLParen:
		n, err := p.parseLevel(0)
		if err != nil {
			return nil, err
		}
		c, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		if c.kind != tkRParen {
			return nil, p.unexpected(c, "expected ')'")
		}
		return n, nil
	case tkJSON:
		return nil, odata.NotImplemented("JSON array or object literals").WithTarget(p.lx.option)
	case tkIdent:
		return p.parseIdentExpr(t)
	}
	return nil, p.unexpected(t, "expected a property, a literal or a function")
}

func (p *exprParser) parseIdentExpr(t token) (Node, *odata.Error) {
	switch {
	case strings.HasPrefix(t.text, "@") && !isIdentifier(t.text[1:]) && !isQualifiedName(t.text[1:]):
		return nil, odata.SyntaxError(p.lx.option, t.pos, "%s is not a parameter alias: its name must start with a letter", t.text)
	case strings.HasPrefix(t.text, "@"):
		return nil, odata.NotImplemented("parameter alias " + t.text).WithTarget(p.lx.option)
	case t.text == "$it" || t.text == "$root" || t.text == "$this":
		return nil, odata.NotImplemented(t.text + " in expressions").WithTarget(p.lx.option)
	case strings.HasPrefix(t.text, "$"):
		return nil, odata.SyntaxError(p.lx.option, t.pos, "%s is not a property, a literal or a function", t.text)
	}
	next, err := p.lx.peek()
	if err != nil {
		return nil, err
	}
	if next.kind == tkLParen && !next.spaceBefore {
		if strings.Contains(t.text, ".") && !isCanonicalFunction(t.text) {
			return nil, odata.NotImplemented("custom function " + t.text + "()").WithTarget(p.lx.option)
		}
		return p.parseCall(t)
	}
	if strings.Contains(t.text, ".") {
		return nil, p.lx.errorf(t.pos, "%s is not a property; a function call needs parentheses", t.text)
	}
	path := []string{t.text}
	for {
		next, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		if next.kind != tkSlash || next.spaceBefore {
			return &Member{Pos: t.pos, Path: path}, nil
		}
		p.lx.next()
		seg, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		if seg.kind != tkIdent || seg.spaceBefore {
			return nil, p.unexpected(seg, "expected a property name after '/'")
		}
		after, err := p.lx.peek()
		if err != nil {
			return nil, err
		}
		switch {
		case (seg.text == "any" || seg.text == "all") && after.kind == tkLParen:
			return nil, p.lambda(seg.text)
		case strings.HasPrefix(seg.text, "@"):
			return nil, odata.NotImplemented("annotation values in expressions").WithTarget(p.lx.option)
		case strings.HasPrefix(seg.text, "$"):
			return nil, odata.NotImplemented(seg.text + " in a path expression").WithTarget(p.lx.option)
		case strings.Contains(seg.text, "."):
			return nil, odata.NotImplemented("type cast or bound function " + seg.text).WithTarget(p.lx.option)
		case after.kind == tkLParen && !after.spaceBefore:
			return nil, odata.NotImplemented("key or function call on a path segment").WithTarget(p.lx.option)
		}
		path = append(path, seg.text)
	}
}

// lambda refuses any() and all(): the gateway has no collection-valued
// properties to apply them to. An all() without a lambda is malformed.
func (p *exprParser) lambda(op string) *odata.Error {
	p.lx.next() // '('
	t, err := p.lx.peek()
	if err != nil {
		return err
	}
	if t.kind == tkRParen && op == "all" {
		return p.lx.errorf(t.pos, "all() needs a lambda expression such as all(d:d/Price gt 5)")
	}
	return odata.NotImplemented("lambda operator " + op).WithTarget(p.lx.option)
}

func isCanonicalFunction(name string) bool {
	_, ok := functionArity[strings.ToLower(name)]
	return ok
}

func (p *exprParser) parseCall(name token) (Node, *odata.Error) {
	lname := strings.ToLower(name.text)
	switch lname {
	case "cast", "isof":
		return nil, odata.NotImplemented(lname + "()").WithTarget(p.lx.option)
	case "case":
		return nil, odata.NotImplemented("case()").WithTarget(p.lx.option)
	}
	p.lx.next() // '('
	var args []Node
	t, err := p.lx.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == tkRParen {
		p.lx.next()
	} else {
		for {
			a, err := p.parseLevel(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			t, err := p.lx.next()
			if err != nil {
				return nil, err
			}
			if t.kind == tkRParen {
				break
			}
			if t.kind != tkComma {
				return nil, p.unexpected(t, "expected a comma or ')' in the argument list of "+name.text)
			}
		}
	}
	if arity, ok := functionArity[lname]; ok {
		if len(args) < arity[0] || len(args) > arity[1] {
			want := itoa(arity[0])
			if arity[1] != arity[0] {
				want += " or " + itoa(arity[1])
			}
			return nil, p.lx.errorf(name.pos, "%s takes %s argument(s), not %d", lname, want, len(args))
		}
	} else {
		lname = name.text
		if len(args) == 0 {
			return nil, p.lx.errorf(name.pos, "%s is not a function of OData", name.text)
		}
	}
	after, err := p.lx.peek()
	if err != nil {
		return nil, err
	}
	if after.kind == tkSlash && !after.spaceBefore {
		return nil, odata.NotImplemented("a path after a function call or key").WithTarget(p.lx.option)
	}
	return &Call{Pos: name.pos, Name: lname, Args: args}, nil
}

func isLiteralNode(n Node) bool {
	switch v := n.(type) {
	case *Literal:
		return true
	case *Unary:
		_, ok := v.Operand.(*Literal)
		return v.Op == "-" && ok
	}
	return false
}

func itoa(n int) string {
	return string(rune('0' + n))
}
