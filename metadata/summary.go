package metadata

// Summary is what a summary set computes: the groups of one table, each
// row one group with its dimensions' values and its measures, grouped by
// the database on every read. A summary set is read-only; its answers
// move with the sets whose tables it reads (Service.Dependents).
type Summary struct {
	// Schema and Table are the table grouped, exactly as the database
	// spells them; Set is its entity set as a summary's filter sees it
	// (the table's properties, named as a served set's would be).
	Schema, Table string
	Set           *EntitySet
	// Joins are the parents one foreign key away whose columns dimensions
	// or measures read.
	Joins []Join
	// Where is the configured filter on the table's rows, bound to Set's
	// properties (a plan expression); nil: every row. WhereText is it as
	// configured.
	Where     Condition
	WhereText string
	// Parts say what each property of the set computes, in the order of
	// its entity type's properties.
	Parts []Part
	// Reads are the served sets whose tables the summary reads (its
	// table's and its parents'): a write to one of them changes it.
	Reads []string
}

// Condition is a bound Boolean expression: a plan expression, which the
// model holds without knowing the planner.
type Condition interface{ Type() Type }

// PartKind is what one property of a summary set holds.
type PartKind int

const (
	// Dimension: a value the rows are grouped by.
	Dimension PartKind = iota
	// Measure: an aggregate over each group's rows.
	Measure
	// Label: the group's dimensions as readable text, which names it in
	// Salesforce.
	Label
)

// MaxLabelLength bounds a summary's label: a Salesforce name field holds
// at most 255 characters.
const MaxLabelLength = 255

// Buckets a date or date-time dimension may be grouped into: the
// bucket's start, a date, computed in UTC.
var Buckets = []string{"year", "quarter", "month", "day"}

// Aggregates a measure may compute.
var Aggregates = []string{"count", "count_distinct", "sum", "avg", "min", "max"}

// Part is what one property of a summary set computes.
type Part struct {
	Prop *Property
	Kind PartKind
	// Of is the column a dimension groups by or a measure aggregates (nil
	// for count and for the label): a property of the table's, or of a
	// join's (whose Column is the name the join gives it).
	Of *Property
	// Bucket (a dimension over a date or date-time): year, quarter, month
	// or day; "" groups by the value itself.
	Bucket string
	// Func (a measure): one of Aggregates.
	Func string
}

// Join reaches a parent table along a single-column foreign key of the
// summary's table: LEFT JOIN, so that a row without a parent forms the
// group of a NULL parent value rather than disappearing.
type Join struct {
	// Alias names the parent in the statement; each column read is
	// renamed Alias_n so that no name of the parent's meets one of the
	// table's.
	Alias         string
	Schema, Table string
	// From is the summary table's foreign-key column; Key the parent's
	// column it refers to.
	From *Property
	Key  string
	// Columns are the parent's columns read, each as a property whose
	// Column is its name within the join (Source the parent's own).
	Columns []JoinColumn
}

// JoinColumn is a parent's column read by a summary.
type JoinColumn struct {
	Source string    // the column, as the parent spells it
	Prop   *Property // as the summary reads it: Column is the join's name for it
}

// Part returns what p computes, when p is a property of the summary set.
func (s *Summary) Part(p *Property) (Part, bool) {
	for _, part := range s.Parts {
		if part.Prop == p {
			return part, true
		}
	}
	return Part{}, false
}

// Dimensions are the parts the rows are grouped by, in key order.
func (s *Summary) Dimensions() []Part {
	var out []Part
	for _, part := range s.Parts {
		if part.Kind == Dimension {
			out = append(out, part)
		}
	}
	return out
}

// IsSummary reports whether a set is a summary set.
func (es *EntitySet) IsSummary() bool { return es.Summary != nil }

// Dependents are the summary sets whose answers change when set's table
// does.
func (s *Service) Dependents(set string) []string { return s.dependents[set] }
