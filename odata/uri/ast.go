package uri

import (
	"time"
)

// Node is an expression in $filter, $orderby or a function argument.
type Node interface {
	// Position is the 0-based offset of the node in the option text.
	Position() int
}

// LiteralKind names the lexical type of a literal as written in the URL.
type LiteralKind int

const (
	LitNull LiteralKind = iota
	LitBoolean
	LitInt      // Value int64
	LitDecimal  // Value string: the decimal text, exact
	LitDouble   // Value float64 (also INF, -INF, NaN)
	LitString   // Value string, unquoted
	LitDate     // Value time.Time at 00:00 UTC
	LitDateTime // Value time.Time (DateTimeOffset), offset preserved
	LitTimeOfDay
	LitGUID     // Value string, lower case
	LitDuration // Value time.Duration
	LitBinary   // Value []byte
)

var literalKindNames = [...]string{"null", "Edm.Boolean", "Edm.Int64", "Edm.Decimal", "Edm.Double",
	"Edm.String", "Edm.Date", "Edm.DateTimeOffset", "Edm.TimeOfDay", "Edm.Guid", "Edm.Duration", "Edm.Binary"}

func (k LiteralKind) String() string { return literalKindNames[k] }

// TimeOfDay is a time of day as the duration since midnight.
type TimeOfDay time.Duration

// Literal is a primitive value written in the URL.
type Literal struct {
	Pos   int
	Kind  LiteralKind
	Value any
	Text  string // as written, for messages and canonical forms
}

// Member is a property path such as Name or Address/City.
type Member struct {
	Pos  int
	Path []string
}

// Binary is an infix operator: eq ne gt ge lt le and or add sub mul div divby mod has.
type Binary struct {
	Pos         int
	Op          string
	Left, Right Node
}

// Unary is "not" or "-" applied to an operand.
type Unary struct {
	Pos     int
	Op      string
	Operand Node
}

// Call is a function call; Name may be qualified (Namespace.Function).
type Call struct {
	Pos  int
	Name string
	Args []Node
}

// In is "Left in (List...)" (OData 4.01).
type In struct {
	Pos  int
	Left Node
	List []Node
}

func (n *Literal) Position() int { return n.Pos }
func (n *Member) Position() int  { return n.Pos }
func (n *Binary) Position() int  { return n.Pos }
func (n *Unary) Position() int   { return n.Pos }
func (n *Call) Position() int    { return n.Pos }
func (n *In) Position() int      { return n.Pos }

// OrderItem is one $orderby entry.
type OrderItem struct {
	Expr Node
	Desc bool
}

// SelectItem is one $select entry: a property path or "*".
type SelectItem struct {
	Pos  int
	Star bool
	Path []string
}

// SearchNode is a $search expression: a term, a phrase, or a combination.
type SearchNode struct {
	Op       string // "term", "and", "or", "not"
	Text     string // for "term": the word or phrase, unquoted
	Children []*SearchNode
}

// KeyValue is one part of a key predicate; Name is empty in the short form Set(1).
type KeyValue struct {
	Name  string
	Value *Literal
}

// Segment is one resource path segment.
type Segment struct {
	Pos  int
	Name string     // identifier, or a $-keyword such as $count, $value, $metadata
	Key  []KeyValue // present when the segment had a key predicate
	// Call: the segment had empty parentheses, as a function without
	// parameters is called. Only the metadata tells whether that is
	// valid (a function) or not (an entity set or a property).
	Call bool
	// KeyAsSegment: the segment is no name, and may be a key written as a
	// segment of its own (Customers/42, People/O'Neil); Name holds its
	// decoded text, and Key the key when the text is one literal. Only
	// the metadata tells whether it can be one.
	KeyAsSegment bool
}

// Query holds the system query options of a request. Absent options keep their zero value.
type Query struct {
	Select    []SelectItem
	HasSelect bool
	Filter    Node
	OrderBy   []OrderItem
	Top       *int64
	Skip      *int64
	Count     *bool
	Search    *SearchNode
	Format    string
	SkipToken string
	// DeltaToken is the $deltatoken of a delta link, as the gateway wrote it.
	DeltaToken string
	// Present lists every system query option given, by canonical name
	// ($filter, $top, ...), in the order they appeared.
	Present []string
	// Duplicates lists system query options given more than once.
	Duplicates []string
}

// Request is a parsed OData URL below a service root.
type Request struct {
	Segments []Segment
	Query    Query
}
