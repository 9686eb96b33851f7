package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Type is an Edm primitive type name.
type Type string

const (
	Boolean        Type = "Edm.Boolean"
	Byte           Type = "Edm.Byte"
	Int16          Type = "Edm.Int16"
	Int32          Type = "Edm.Int32"
	Int64          Type = "Edm.Int64"
	Single         Type = "Edm.Single"
	Double         Type = "Edm.Double"
	Decimal        Type = "Edm.Decimal"
	String         Type = "Edm.String"
	GUID           Type = "Edm.Guid"
	Date           Type = "Edm.Date"
	DateTimeOffset Type = "Edm.DateTimeOffset"
	TimeOfDay      Type = "Edm.TimeOfDay"
	Duration       Type = "Edm.Duration"
	Binary         Type = "Edm.Binary"
)

// IsNumeric reports the types arithmetic applies to.
func (t Type) IsNumeric() bool {
	switch t {
	case Byte, Int16, Int32, Int64, Single, Double, Decimal:
		return true
	}
	return false
}

// IsInteger reports the integral types.
func (t Type) IsInteger() bool {
	switch t {
	case Byte, Int16, Int32, Int64:
		return true
	}
	return false
}

// Namespace is the schema namespace of every service the gateway serves.
const Namespace = "odatagw"

// ContainerName is the entity container's name.
const ContainerName = "Container"

// Property is one structural property, backed by one column.
type Property struct {
	Name        string // OData name
	Column      string // database column name, exactly as the database spells it
	Type        Type
	Nullable    bool
	MaxLength   int  // 0: unbounded
	Precision   int  // Decimal digits, or DateTimeOffset fractional-second digits; 0: unspecified
	Scale       int  // Decimal scale when ScaleSet
	ScaleSet    bool // false: variable scale
	Computed    bool // filled by the database; clients may not set it
	Description string
	DBType      string // database type as declared, for reports
	// TextForm: the source reads the column in its text form (a json, enum
	// or array column served as Edm.String).
	TextForm bool
}

// EntityType is the shape of the entities of one set.
type EntityType struct {
	Name       string
	Properties []*Property
	Key        []*Property
	byName     map[string]*Property
}

// Property returns the property with that OData name.
func (t *EntityType) Property(name string) (*Property, bool) {
	p, ok := t.byName[name]
	return p, ok
}

// IsKey reports whether p is part of the key.
func (t *EntityType) IsKey(p *Property) bool {
	for _, k := range t.Key {
		if k == p {
			return true
		}
	}
	return false
}

// EntitySet is a collection of entities backed by one table or view.
type EntitySet struct {
	Name        string
	Type        *EntityType
	Schema      string // database schema, "" where the database has none
	Table       string // table or view name, exactly as the database spells it
	IsView      bool
	ReadOnly    bool
	PageSize    int // server-driven page size for this set
	Description string
	// Count says how $count and @odata.count are computed for this set.
	Count CountPolicy
	// Search lists the properties $search reads; empty: every String one.
	Search []*Property
	// Tracked: the database logs this table's changes and keeps its row
	// count (odatagw track); a delta link on it stays good for
	// ChangeRetention.
	Tracked         bool
	ChangeRetention time.Duration
	// References are the table's foreign keys, as the database declares
	// them; UniqueKeys its primary and unique keys over served columns.
	// Neither changes an OData answer: they tell Salesforce's package
	// which fields are lookups and which can name a record.
	References []Reference
	UniqueKeys [][]*Property
	// Summary, on a summary set, is what its rows compute: the groups of
	// a table (Schema and Table are then empty). Nil on a table's set.
	Summary *Summary
}

// Reference is a foreign key of a set's table: its columns hold values of
// TargetColumns of TargetTable. Properties serve Columns, one each, nil
// where a column is not served.
type Reference struct {
	Name          string
	Columns       []string
	Properties    []*Property
	TargetSchema  string
	TargetTable   string
	TargetColumns []string
	// TargetSet names the target's set where the model says which
	// (a service over several sources, whose members may each have a
	// table so called); "": the set that serves TargetTable.
	TargetSet string
}

// SetOfTable returns the set that serves a table, if one does (a
// summary set over it does not serve it).
func (s *Service) SetOfTable(schema, table string) (*EntitySet, bool) {
	for _, es := range s.Sets {
		if es.Summary == nil && es.Schema == schema && es.Table == table {
			return es, true
		}
	}
	return nil, false
}

// SearchedProperties are the properties a $search term is looked for in:
// those configured (a summary's text dimensions, perhaps none), else every
// String property.
func (es *EntitySet) SearchedProperties() []*Property {
	if es.Search != nil {
		return es.Search
	}
	var out []*Property
	for _, p := range es.Type.Properties {
		if p.Type == String {
			out = append(out, p)
		}
	}
	return out
}

// CountPolicy says how a set's rows are counted.
type CountPolicy struct {
	Mode CountMode
	// Threshold: in CountAuto, the planner's estimate from which on the
	// count is estimated.
	Threshold int64
}

// CountMode is how a set's rows are counted.
type CountMode string

const (
	// CountExact counts the rows (the default): what Salesforce shows is
	// true, at the cost of reading what matches.
	CountExact CountMode = "exact"
	// CountEstimated answers the database planner's estimate, at once.
	CountEstimated CountMode = "estimated"
	// CountAuto counts exactly while the planner expects fewer rows than
	// the threshold, and estimates above it.
	CountAuto CountMode = "auto"
)

// Service is the immutable model of one service root.
type Service struct {
	Sets    []*EntitySet
	bySet   map[string]*EntitySet
	version string
	// dependents: set -> the summary sets that read its table
	dependents map[string][]string
}

// EntitySet returns the set with that name.
func (s *Service) EntitySet(name string) (*EntitySet, bool) {
	es, ok := s.bySet[name]
	return es, ok
}

// Version is a digest of everything in the model; it changes whenever a
// name, type or key changes, and keys caches and skiptokens.
func (s *Service) Version() string { return s.version }

// NewEntityType builds a type, indexing its properties. Key names properties of props.
func NewEntityType(name string, props []*Property, key []string) (*EntityType, error) {
	t, err := NewRowType(name, props)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("entity type %s has no key", name)
	}
	for _, k := range key {
		p, ok := t.byName[k]
		if !ok {
			return nil, fmt.Errorf("entity type %s: key property %s does not exist", name, k)
		}
		p.Nullable = false
		t.Key = append(t.Key, p)
	}
	return t, nil
}

// NewRowType is an entity type without a key: the shape of a table's
// rows where no entity is addressed (a summary's filter is bound to it).
func NewRowType(name string, props []*Property) (*EntityType, error) {
	t := &EntityType{Name: name, Properties: props, byName: make(map[string]*Property, len(props))}
	for _, p := range props {
		if _, dup := t.byName[p.Name]; dup {
			return nil, fmt.Errorf("entity type %s: property %s appears twice", name, p.Name)
		}
		t.byName[p.Name] = p
	}
	return t, nil
}

// NewService builds the model, checks that set names are unique, and
// computes its version.
func NewService(sets []*EntitySet) (*Service, error) {
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	s := &Service{Sets: sets, bySet: make(map[string]*EntitySet, len(sets)), dependents: map[string][]string{}}
	h := sha256.New()
	for _, es := range sets {
		if _, dup := s.bySet[es.Name]; dup {
			return nil, fmt.Errorf("entity set %s appears twice", es.Name)
		}
		s.bySet[es.Name] = es
		fmt.Fprintf(h, "set %s %q.%q ro=%v page=%d\n", es.Name, es.Schema, es.Table, es.ReadOnly, es.PageSize)
		for _, p := range es.Type.Properties {
			fmt.Fprintf(h, " %s %q %s n=%v l=%d p=%d s=%d/%v c=%v key=%v\n", p.Name, p.Column, p.Type,
				p.Nullable, p.MaxLength, p.Precision, p.Scale, p.ScaleSet, p.Computed, es.Type.IsKey(p))
		}
		if sum := es.Summary; sum != nil {
			// what a summary computes is part of what its answers mean
			fmt.Fprintf(h, " summary of %q.%q where %q\n", sum.Schema, sum.Table, sum.WhereText)
			for _, part := range sum.Parts {
				of := ""
				if part.Of != nil {
					of = part.Of.Column
				}
				fmt.Fprintf(h, "  %s %d %q %s%s\n", part.Prop.Name, part.Kind, of, part.Bucket, part.Func)
			}
			for _, j := range sum.Joins {
				fmt.Fprintf(h, "  join %s %q.%q on %q = %q\n", j.Alias, j.Schema, j.Table, j.From.Column, j.Key)
			}
			for _, read := range sum.Reads {
				s.dependents[read] = append(s.dependents[read], es.Name)
			}
		}
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:16]
	return s, nil
}

// QualifiedName returns the namespace-qualified name of the entity type.
func (t *EntityType) QualifiedName() string { return Namespace + "." + t.Name }

// KeyString formats a key for messages: 42 or (OrderId=1,ProductId=2).
func KeyString(names []string, values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	parts := make([]string, len(values))
	for i := range values {
		parts[i] = names[i] + "=" + values[i]
	}
	return strings.Join(parts, ",")
}
