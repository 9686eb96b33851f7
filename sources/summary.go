package sources

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// Summary declares a summary set: an entity set whose rows are the groups
// of one table, computed by the database on every read, for the reports
// Salesforce cannot make over an external object itself.
type Summary struct {
	Name string
	// From is the table grouped, named as include names it (schema.table
	// outside the first schema).
	From       string
	Dimensions []Dimension
	Measures   []Measure
	// Where, in $filter's syntax over From's properties, keeps the rows
	// grouped; "" keeps every row.
	Where string
}

// Dimension is what a summary groups by: a column of its table, or of a
// parent one foreign key away (fk_column.parent_column), or a date or
// date-time column's bucket.
type Dimension struct {
	Column string
	Bucket string // year, quarter, month or day; "" for the value itself
	As     string // the property's name; default the column's, a bucket's its unit
}

// Measure is an aggregate of each group's rows: count, count_distinct(c),
// sum(c), avg(c), min(c) or max(c).
type Measure struct {
	Name string
	Of   string
}

// String is a dimension as the configuration writes it.
func (d Dimension) String() string {
	if d.Bucket != "" {
		return "{" + d.Bucket + ": " + d.Column + "}"
	}
	return d.Column
}

// SummaryError is a declared summary the database cannot compute: a
// table, column, function or name that is not there or does not fit.
type SummaryError struct{ Err error }

func (e *SummaryError) Error() string { return e.Err.Error() }
func (e *SummaryError) Unwrap() error { return e.Err }

// summarized is a summary being built over its table.
type summarized struct {
	decl   Summary
	where  string // "summaries.NAME", for messages
	table  Table
	tables []Table
	base   []*metadata.Property // the table's properties, named as its served set's
	sum    *metadata.Summary
}

// summarySets builds the declared summary sets over the introspected
// tables; sets are the table sets already built, whose names a summary
// may not take. Every problem is an error naming the summary: a summary
// is refused when the source opens, never at its first request.
func summarySets(tables []Table, opts Options, defaultSchema string, sets []*metadata.EntitySet) ([]*metadata.EntitySet, error) {
	taken := map[string]string{}
	for _, es := range sets {
		taken[strings.ToLower(es.Name)] = "the entity set of " + es.Table
	}
	decls := slices.Clone(opts.Summaries)
	sort.Slice(decls, func(i, j int) bool { return decls[i].Name < decls[j].Name })
	var out []*metadata.EntitySet
	for _, d := range decls {
		where := "summaries." + d.Name
		if !metadata.ValidName(d.Name) {
			return nil, fmt.Errorf("summaries: %q is not a valid Salesforce API name (letters, digits and _, starting with a letter, no __, no trailing _, at most %d characters)", d.Name, metadata.MaxNameLength)
		}
		if other, clash := taken[strings.ToLower(d.Name)]; clash {
			return nil, fmt.Errorf("%s: the name is taken by %s; give the summary another name", where, other)
		}
		taken[strings.ToLower(d.Name)] = "the summary " + d.Name
		t, err := findTable(tables, d.From, defaultSchema)
		if err != nil {
			return nil, fmt.Errorf("%s: from: %w", where, err)
		}
		s := &summarized{decl: d, where: where, table: t, tables: tables,
			sum: &metadata.Summary{Schema: t.Schema, Table: t.Name, WhereText: d.Where}}
		if s.base, err = tableProperties(t, qualified(t, defaultSchema), opts); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		es, err := s.build(opts)
		if err != nil {
			return nil, err
		}
		es.Summary.Reads = readsOf(es.Summary, sets)
		out = append(out, es)
	}
	return out, nil
}

// readsOf are the served sets whose tables a summary reads.
func readsOf(sum *metadata.Summary, sets []*metadata.EntitySet) []string {
	var out []string
	add := func(schema, table string) {
		for _, es := range sets {
			if es.Schema == schema && es.Table == table && !slices.Contains(out, es.Name) {
				out = append(out, es.Name)
			}
		}
	}
	add(sum.Schema, sum.Table)
	for _, j := range sum.Joins {
		add(j.Schema, j.Table)
	}
	return out
}

// findTable finds a table by the name include would give it, or its bare
// name.
func findTable(tables []Table, name, defaultSchema string) (Table, error) {
	if name == "" {
		return Table{}, fmt.Errorf("name the table the summary groups")
	}
	for _, exact := range []bool{true, false} {
		for _, t := range tables {
			qn := qualified(t, defaultSchema)
			if exact && (qn == name || t.Name == name) || !exact && (strings.EqualFold(qn, name) || strings.EqualFold(t.Name, name)) {
				return t, nil
			}
		}
	}
	var names []string
	for _, t := range tables {
		names = append(names, qualified(t, defaultSchema))
	}
	sort.Strings(names)
	return Table{}, fmt.Errorf("no table or view is called %s (the database has %s)", name, listSome(names))
}

// listSome lists names for a message, the first ten of them.
func listSome(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// tableProperties are a table's servable columns as properties, named as
// its entity set's would be, with the database's own nullability.
func tableProperties(t Table, qn string, opts Options) ([]*metadata.Property, error) {
	var cols []Column
	for _, c := range t.Columns {
		if c.Type != "" {
			cols = append(cols, c)
		}
	}
	return properties(t, qn, cols, opts, nil)
}

// property finds a property of props by its OData or its column name.
func property(props []*metadata.Property, name string) *metadata.Property {
	for _, p := range props {
		if p.Name == name || p.Column == name {
			return p
		}
	}
	for _, p := range props {
		if strings.EqualFold(p.Name, name) || strings.EqualFold(p.Column, name) {
			return p
		}
	}
	return nil
}

func columnNames(t Table) string {
	var names []string
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	return listSome(names)
}

// column resolves a column reference of a dimension or a measure: a
// column of the table, or fk_column.parent_column along a foreign key.
// what names the reference in messages.
func (s *summarized) column(ref, what string) (*metadata.Property, error) {
	fkName, parentCol, hop := strings.Cut(ref, ".")
	p := property(s.base, fkName)
	if p == nil {
		for _, c := range s.table.Columns {
			if c.Name == fkName || strings.EqualFold(c.Name, fkName) {
				return nil, fmt.Errorf("%s: %s.%s is %s, which has no OData type to group or aggregate", what, s.table.Name, c.Name, c.DBType)
			}
		}
		return nil, fmt.Errorf("%s: %s has no column %s (its columns: %s)", what, s.table.Name, fkName, columnNames(s.table))
	}
	if !hop {
		return p, nil
	}
	return s.parentColumn(p, parentCol, what)
}

// parentColumn is a parent's column reached along the single-column
// foreign key on fk, joined once however many parts read it.
func (s *summarized) parentColumn(fk *metadata.Property, name, what string) (*metadata.Property, error) {
	var decl *ForeignKey
	for i, f := range s.table.ForeignKeys {
		if len(f.Columns) == 1 && f.Columns[0] == fk.Column {
			decl = &s.table.ForeignKeys[i]
			break
		}
	}
	if decl == nil {
		return nil, fmt.Errorf("%s: %s.%s is not a foreign key: the database declares no reference on it alone, so there is no parent to read %s from",
			what, s.table.Name, fk.Column, name)
	}
	schema := decl.RefSchema
	if schema == "" {
		schema = s.table.Schema
	}
	var parent *Table
	for i, t := range s.tables {
		if t.Schema == schema && t.Name == decl.RefTable {
			parent = &s.tables[i]
		}
	}
	if parent == nil {
		return nil, fmt.Errorf("%s: the table %s that %s.%s refers to cannot be read", what, decl.RefTable, s.table.Name, fk.Column)
	}
	props, err := tableProperties(*parent, parent.Name, Options{})
	if err != nil {
		return nil, err
	}
	col := property(props, name)
	if col == nil {
		return nil, fmt.Errorf("%s: %s (the parent %s.%s refers to) has no column %s (its columns: %s)", what, parent.Name, s.table.Name, fk.Column, name, columnNames(*parent))
	}
	var join *metadata.Join
	for i := range s.sum.Joins {
		if s.sum.Joins[i].From == fk {
			join = &s.sum.Joins[i]
		}
	}
	if join == nil {
		s.sum.Joins = append(s.sum.Joins, metadata.Join{Alias: fmt.Sprintf("odatagw_p%d", len(s.sum.Joins)+1),
			Schema: parent.Schema, Table: parent.Name, From: fk, Key: decl.RefColumns[0]})
		join = &s.sum.Joins[len(s.sum.Joins)-1]
	}
	for _, c := range join.Columns {
		if c.Source == col.Column {
			return c.Prop, nil
		}
	}
	read := *col
	read.Column = fmt.Sprintf("%s_%d", join.Alias, len(join.Columns)+1)
	for _, c := range s.table.Columns {
		if c.Name == read.Column {
			return nil, fmt.Errorf("%s: %s has a column called %s, the name the gateway gives a parent's column in the statement; it cannot read a parent", what, s.table.Name, read.Column)
		}
	}
	// a row without a parent groups under a null parent value
	read.Nullable = true
	join.Columns = append(join.Columns, metadata.JoinColumn{Source: col.Column, Prop: &read})
	return &read, nil
}

// build makes the summary's entity set.
func (s *summarized) build(opts Options) (*metadata.EntitySet, error) {
	d := s.decl
	if len(d.Dimensions) == 0 {
		return nil, fmt.Errorf("%s: name at least one dimension: the columns the rows are grouped by", s.where)
	}
	var props []*metadata.Property
	var keys []string
	nullable := map[*metadata.Property]bool{}
	names := map[string]string{} // lower-case name -> what has it
	claim := func(name, what string) error {
		if other, dup := names[strings.ToLower(name)]; dup {
			return fmt.Errorf("%s: %s and %s would both be called %s; rename one (as: on a dimension, another name for a measure)", s.where, other, what, name)
		}
		names[strings.ToLower(name)] = what
		return nil
	}
	for _, dim := range d.Dimensions {
		what := "the dimension " + dim.String()
		of, err := s.column(dim.Column, what)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
		p := &metadata.Property{Name: of.Name, Type: of.Type, Nullable: of.Nullable, MaxLength: of.MaxLength,
			Precision: of.Precision, Scale: of.Scale, ScaleSet: of.ScaleSet, DBType: of.DBType, Description: of.Description}
		if dim.Bucket != "" {
			if !slices.Contains(metadata.Buckets, dim.Bucket) {
				return nil, fmt.Errorf("%s: %s: %s is not a bucket: use year, quarter, month or day", s.where, what, dim.Bucket)
			}
			if of.Type != metadata.Date && of.Type != metadata.DateTimeOffset {
				return nil, fmt.Errorf("%s: %s: %s is %s; a %s bucket groups a date or date-time column", s.where, what, dim.Column, of.Type, dim.Bucket)
			}
			p = &metadata.Property{Name: dim.Bucket, Type: metadata.Date, Nullable: of.Nullable, DBType: "date",
				Description: "The first day of the " + dim.Bucket + " of " + dim.Column + ", in UTC"}
		}
		if dim.As != "" {
			p.Name = dim.As
		}
		if !metadata.ValidName(p.Name) {
			return nil, fmt.Errorf("%s: %s: %q is not a valid Salesforce API name; name the property with as: NAME", s.where, what, p.Name)
		}
		if err := claim(p.Name, what); err != nil {
			return nil, err
		}
		p.Column = p.Name
		nullable[p] = p.Nullable
		props = append(props, p)
		keys = append(keys, p.Name)
		s.sum.Parts = append(s.sum.Parts, metadata.Part{Prop: p, Kind: metadata.Dimension, Of: of, Bucket: dim.Bucket})
	}
	for _, m := range d.Measures {
		p, part, err := s.measure(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
		if err := claim(p.Name, "the measure "+m.Name); err != nil {
			return nil, err
		}
		props = append(props, p)
		s.sum.Parts = append(s.sum.Parts, part)
	}
	label := &metadata.Property{Type: metadata.String, MaxLength: metadata.MaxLabelLength, Computed: true, DBType: "text",
		Description: "The group's dimensions as text, which names it"}
	for _, name := range []string{"label", "group_label", "summary_label"} {
		if _, dup := names[name]; !dup {
			label.Name = name
			break
		}
	}
	if label.Name == "" {
		return nil, fmt.Errorf("%s: label, group_label and summary_label are all taken; rename one, the group's label needs a name", s.where)
	}
	label.Column = label.Name
	props = append(props, label)
	s.sum.Parts = append(s.sum.Parts, metadata.Part{Prop: label, Kind: metadata.Label})

	et, err := metadata.NewEntityType(d.Name, props, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	// a group whose dimension has no value is a group too, addressed by
	// a null in its key
	for p, n := range nullable {
		p.Nullable = n
	}
	s.sum.Set, err = baseSet(s.table, s.base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	if d.Where != "" {
		cond, oerr := plan.Filter(s.sum.Set, "where", d.Where)
		if oerr != nil {
			return nil, fmt.Errorf("%s: where: %s", s.where, oerr.Message)
		}
		s.sum.Where = cond
	}
	es := &metadata.EntitySet{Name: d.Name, Type: et, ReadOnly: true, IsView: true, PageSize: opts.PageSize,
		Description: s.description(), Count: metadata.CountPolicy{Mode: metadata.CountExact}, Summary: s.sum,
		References: s.references(), UniqueKeys: [][]*metadata.Property{et.Key}}
	for _, part := range s.sum.Dimensions() {
		if part.Prop.Type == metadata.String {
			es.Search = append(es.Search, part.Prop)
		}
	}
	if len(es.Search) == 0 {
		es.Search = []*metadata.Property{} // no text dimension: $search finds nothing to read
	}
	return es, nil
}

// baseSet is the summary's table as a set, for binding its where.
func baseSet(t Table, props []*metadata.Property) (*metadata.EntitySet, error) {
	typ, err := metadata.NewRowType(t.Name, props)
	if err != nil {
		return nil, err
	}
	return &metadata.EntitySet{Name: t.Name, Type: typ, Schema: t.Schema, Table: t.Name}, nil
}

// measure reads one measure: its function, the column it aggregates and
// the type of its value.
func (s *summarized) measure(m Measure) (*metadata.Property, metadata.Part, error) {
	what := "the measure " + m.Name
	if !metadata.ValidName(m.Name) {
		return nil, metadata.Part{}, fmt.Errorf("measures: %q is not a valid Salesforce API name (letters, digits and _, starting with a letter, no __, no trailing _, at most %d characters)", m.Name, metadata.MaxNameLength)
	}
	fn, arg := strings.TrimSpace(m.Of), ""
	if open := strings.IndexByte(fn, '('); open > 0 && strings.HasSuffix(fn, ")") {
		fn, arg = strings.TrimSpace(fn[:open]), strings.TrimSpace(fn[open+1:len(fn)-1])
	}
	fn = strings.ToLower(fn)
	if fn == "count" && (arg == "" || arg == "*") {
		p := &metadata.Property{Name: m.Name, Column: m.Name, Type: metadata.Int64, DBType: "count", Computed: true,
			Description: "The number of rows in the group"}
		return p, metadata.Part{Prop: p, Kind: metadata.Measure, Func: "count"}, nil
	}
	if !slices.Contains(metadata.Aggregates, fn) || arg == "" {
		return nil, metadata.Part{}, fmt.Errorf("%s: %q: write count, count_distinct(column), sum(column), avg(column), min(column) or max(column)", what, m.Of)
	}
	of, err := s.column(arg, what)
	if err != nil {
		return nil, metadata.Part{}, err
	}
	p := &metadata.Property{Name: m.Name, Column: m.Name, Type: of.Type, Nullable: of.Nullable, MaxLength: of.MaxLength,
		Precision: of.Precision, Scale: of.Scale, ScaleSet: of.ScaleSet, DBType: fn + "(" + of.DBType + ")", Computed: true,
		Description: map[string]string{"sum": "The sum of ", "avg": "The average of ", "min": "The least ", "max": "The greatest "}[fn] + arg + " in the group"}
	switch fn {
	case "count_distinct":
		p.Type, p.Nullable, p.MaxLength, p.Precision, p.Scale, p.ScaleSet = metadata.Int64, false, 0, 0, 0, false
		p.Description = "The number of distinct values of " + arg + " in the group"
	case "sum":
		switch {
		case of.Type == metadata.Int64:
			// a sum of 64-bit integers may need more digits than they have
			p.Type, p.Precision, p.Scale, p.ScaleSet = metadata.Decimal, 0, 0, true
		case of.Type.IsInteger():
			p.Type = metadata.Int64
		case of.Type == metadata.Decimal:
			p.Precision = 0 // as many digits as the sum needs, the column's scale
		case of.Type == metadata.Single || of.Type == metadata.Double:
			p.Type = metadata.Double
		default:
			return nil, metadata.Part{}, fmt.Errorf("%s: sum(%s): %s is %s and cannot be summed; count it, or take its min or max", what, arg, arg, of.Type)
		}
	case "avg":
		if !of.Type.IsNumeric() {
			return nil, metadata.Part{}, fmt.Errorf("%s: avg(%s): %s is %s and has no average; count it, or take its min or max", what, arg, arg, of.Type)
		}
		p.Type, p.Precision, p.Scale, p.ScaleSet = metadata.Decimal, 0, 0, false
	case "min", "max":
		switch of.Type {
		case metadata.Boolean, metadata.Binary, metadata.GUID:
			return nil, metadata.Part{}, fmt.Errorf("%s: %s(%s): %s is %s, which the databases do not order alike; count it instead", what, fn, arg, arg, of.Type)
		}
		p.TextForm = false
	}
	return p, metadata.Part{Prop: p, Kind: metadata.Measure, Func: fn, Of: of}, nil
}

// references are the foreign keys a summary's dimensions keep: a
// dimension over a foreign-key column of the table refers to what the
// column does, so that Salesforce can show the summary on the parent.
func (s *summarized) references() []metadata.Reference {
	var out []metadata.Reference
	for _, part := range s.sum.Dimensions() {
		if part.Bucket != "" || !slices.Contains(s.base, part.Of) {
			continue
		}
		for _, fk := range s.table.ForeignKeys {
			if len(fk.Columns) != 1 || fk.Columns[0] != part.Of.Column {
				continue
			}
			ref := metadata.Reference{Name: fk.Name, Columns: []string{part.Prop.Name}, Properties: []*metadata.Property{part.Prop},
				TargetSchema: fk.RefSchema, TargetTable: fk.RefTable, TargetColumns: fk.RefColumns}
			if ref.TargetSchema == "" {
				ref.TargetSchema = s.table.Schema
			}
			out = append(out, ref)
		}
	}
	return out
}

// description says what a summary's rows are, for $metadata and
// Salesforce.
func (s *summarized) description() string {
	var dims []string
	for _, d := range s.decl.Dimensions {
		dims = append(dims, d.String())
	}
	text := "Groups of " + s.table.Name + " by " + strings.Join(dims, ", ") + ", computed by the database on every read"
	if s.decl.Where != "" {
		text += "; rows where " + s.decl.Where
	}
	return text
}
