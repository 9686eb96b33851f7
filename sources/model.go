package sources

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

// Table is what introspection found about one table or view.
type Table struct {
	Schema     string
	Name       string
	IsView     bool
	Comment    string
	Columns    []Column
	PrimaryKey []string   // column names
	UniqueKeys [][]string // unique indexes over NOT NULL columns, best first
	ReadOnly   bool       // the database user may not write it
	Tracked    bool       // change tracking is installed on it (odatagw track)
	// ForeignKeys are the table's references to other tables (or to
	// itself), as declared in the database.
	ForeignKeys []ForeignKey
}

// ForeignKey is one declared reference: Columns of the table hold values
// of RefColumns of RefTable.
type ForeignKey struct {
	Name       string // the constraint's name, "" where the database has none
	Columns    []string
	RefSchema  string // "" for the table's own schema where the database has none
	RefTable   string
	RefColumns []string
}

// Column is one column of a table, already mapped to an Edm type.
type Column struct {
	Name      string
	DBType    string
	Type      metadata.Type // "" when the column's type cannot be served
	Nullable  bool
	MaxLength int
	Precision int
	Scale     int
	ScaleSet  bool
	Computed  bool
	Comment   string
	TextForm  bool // read in its text form (see metadata.Property)
}

// AllNotNull reports whether every column named is a NOT NULL column of
// the table: a unique index over them can serve as a key.
func AllNotNull(t *Table, cols []string) bool {
	for _, name := range cols {
		found := false
		for _, c := range t.Columns {
			if c.Name == name {
				found = !c.Nullable
			}
		}
		if !found {
			return false
		}
	}
	return len(cols) > 0
}

// qualified is the name used for a table in config and messages: the bare
// name in the first schema, schema.name otherwise.
func qualified(t Table, defaultSchema string) string {
	if t.Schema == "" || t.Schema == defaultSchema {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

func matchAny(patterns []string, names ...string) bool {
	for _, p := range patterns {
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok {
				return true
			}
			if strings.EqualFold(p, n) {
				return true
			}
		}
	}
	return false
}

// BuildModel turns introspected tables into a service model following the
// options: it filters tables, chooses keys, leaves out what cannot be served
// (saying why) and names sets and properties.
func BuildModel(tables []Table, opts Options, defaultSchema string) (*metadata.Service, metadata.Decisions, error) {
	var rep metadata.Decisions
	cands, err := candidates(tables, opts, defaultSchema, &rep)
	if err != nil {
		return nil, rep, err
	}
	originals := make([]string, len(cands))
	for i, c := range cands {
		originals[i] = c.name
	}
	setNames, renames, err := metadata.AssignNames(originals, opts.Names, "T")
	if err != nil {
		return nil, rep, err
	}
	rep.Renamed = append(rep.Renamed, renames...)
	var sets []*metadata.EntitySet
	for _, c := range cands {
		set, err := entitySet(c, setNames[c.name], opts, &rep)
		if err != nil {
			return nil, rep, err
		}
		sets = append(sets, set)
	}
	if err := applyCountPolicies(sets, opts); err != nil {
		return nil, rep, err
	}
	if err := applySearch(sets, opts); err != nil {
		return nil, rep, err
	}
	summaries, err := summarySets(tables, opts, defaultSchema, sets)
	if err != nil {
		return nil, rep, &SummaryError{Err: err}
	}
	svc, err := metadata.NewService(append(sets, summaries...))
	return svc, rep, err
}

// applySearch gives the sets the configuration names the properties their
// $search reads.
func applySearch(sets []*metadata.EntitySet, opts Options) error {
	for name, props := range opts.Search {
		var es *metadata.EntitySet
		for _, s := range sets {
			if s.Name == name {
				es = s
			}
		}
		if es == nil {
			return fmt.Errorf("search: this source has no entity set named %s", name)
		}
		es.Search = nil
		for _, pn := range props {
			p, ok := es.Type.Property(pn)
			if !ok || p.Type != metadata.String {
				return fmt.Errorf("search: %s has no text property %s", name, pn)
			}
			es.Search = append(es.Search, p)
		}
	}
	return nil
}

// applyCountPolicies gives each set the source's count policy, or its own.
func applyCountPolicies(sets []*metadata.EntitySet, opts Options) error {
	mode := func(s, where string) (metadata.CountMode, error) {
		switch m := metadata.CountMode(s); m {
		case "", metadata.CountExact:
			return metadata.CountExact, nil
		case metadata.CountEstimated, metadata.CountAuto:
			return m, nil
		}
		return "", fmt.Errorf("%s: count %q: use exact, estimated or auto", where, s)
	}
	all, err := mode(opts.Count, "count")
	if err != nil {
		return err
	}
	byName := map[string]*metadata.EntitySet{}
	for _, es := range sets {
		es.Count = metadata.CountPolicy{Mode: all, Threshold: opts.CountThreshold}
		byName[es.Name] = es
	}
	for name, s := range opts.SetCount {
		es, ok := byName[name]
		if !ok {
			return fmt.Errorf("set_count: this source has no entity set named %s", name)
		}
		if es.Count.Mode, err = mode(s, "set_count "+name); err != nil {
			return err
		}
	}
	return nil
}

// candidate is a table that will be served, with its key and the columns
// that can be.
type candidate struct {
	t    Table
	name string // qualified table name
	key  []string
	cols []Column
}

// candidates picks the tables to serve, sorted by name; what it leaves out
// goes in the report with the reason.
func candidates(tables []Table, opts Options, defaultSchema string, rep *metadata.Decisions) ([]candidate, error) {
	var cands []candidate
	for _, t := range tables {
		qn := qualified(t, defaultSchema)
		if len(opts.Include) > 0 && !matchAny(opts.Include, qn, t.Name) {
			continue
		}
		if matchAny(opts.Exclude, qn, t.Name) {
			continue
		}
		var cols []Column
		for _, c := range t.Columns {
			if c.Type == "" {
				rep.Skipped = append(rep.Skipped, metadata.Skipped{Object: qn + "." + c.Name, Reason: "type " + c.DBType + " has no OData equivalent"})
				continue
			}
			cols = append(cols, c)
		}
		key, reason, err := chooseKey(t, qn, cols, opts)
		if err != nil {
			return nil, err
		}
		if reason == "" && len(cols) == 0 {
			reason = "no column can be served"
		}
		if reason != "" {
			rep.Skipped = append(rep.Skipped, metadata.Skipped{Object: qn, Reason: reason})
			continue
		}
		cands = append(cands, candidate{t: t, name: qn, key: key, cols: cols})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
	return cands, nil
}

// chooseKey finds a table's key: configured, else its primary key, else
// its first unique NOT NULL index. reason says why a table has none that
// can be served; a configured key naming a missing column is an error.
func chooseKey(t Table, qn string, cols []Column, opts Options) (key []string, reason string, err error) {
	key = opts.Keys[qn]
	if key == nil {
		key = opts.Keys[t.Name]
	}
	switch {
	case key != nil:
		for _, k := range key {
			if !hasColumn(cols, k) {
				return nil, "", fmt.Errorf("key column %q configured for %s does not exist", k, qn)
			}
		}
	case len(t.PrimaryKey) > 0:
		key = t.PrimaryKey
	case len(t.UniqueKeys) > 0:
		key = t.UniqueKeys[0]
	case t.IsView:
		return nil, "a view needs its key columns named in the configuration (keys: {" + qn + ": [column, ...]})", nil
	default:
		return nil, "no primary key and no unique index over NOT NULL columns; name key columns in the configuration (keys: {" + qn + ": [column, ...]})", nil
	}
	for _, k := range key {
		if !hasColumn(cols, k) {
			reason = "key column " + k + " has a type that cannot be served"
		}
	}
	return key, reason, nil
}

// entitySet builds the entity set of one table under its set name, with
// Salesforce-safe property names; renames go in the report.
func entitySet(c candidate, setName string, opts Options, rep *metadata.Decisions) (*metadata.EntitySet, error) {
	props, err := properties(c.t, c.name, c.cols, opts, rep)
	if err != nil {
		return nil, err
	}
	for i, p := range props {
		// a property may not share its entity type's name in CSDL
		if strings.EqualFold(p.Name, setName) {
			old := p.Name
			props[i].Name = p.Name + "_" + "Value"
			rep.Renamed = append(rep.Renamed, metadata.Rename{Original: c.name + "." + p.Column, Name: props[i].Name, Reason: "same name as its entity type " + old})
		}
	}
	keyProps := make([]string, len(c.key))
	for i, k := range c.key {
		keyProps[i] = propNamesFor(props, k)
	}
	et, err := metadata.NewEntityType(setName, props, keyProps)
	if err != nil {
		return nil, err
	}
	return &metadata.EntitySet{Name: setName, Type: et, Schema: c.t.Schema, Table: c.t.Name,
		IsView: c.t.IsView, ReadOnly: opts.ReadOnly || c.t.IsView || c.t.ReadOnly || slices.Contains(opts.ReadOnlySets, setName), PageSize: opts.PageSize,
		Description: c.t.Comment, Tracked: c.t.Tracked, ChangeRetention: opts.ChangeRetention,
		References: references(c.t, props), UniqueKeys: uniqueKeys(c.t, props)}, nil
}

// properties are the columns of a table (qn as the configuration names
// it) as properties with Salesforce-safe names, the configuration's
// columns: overrides winning; renames go in rep when it is given.
func properties(t Table, qn string, cols []Column, opts Options, rep *metadata.Decisions) ([]*metadata.Property, error) {
	colNames := make([]string, len(cols))
	for i, col := range cols {
		colNames[i] = col.Name
	}
	overrides := opts.Columns[qn]
	if overrides == nil {
		overrides = opts.Columns[t.Name]
	}
	names, renames, err := metadata.AssignNames(colNames, overrides, "C")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", qn, err)
	}
	if rep != nil {
		for _, r := range renames {
			r.Original = qn + "." + r.Original
			rep.Renamed = append(rep.Renamed, r)
		}
	}
	props := make([]*metadata.Property, len(cols))
	for i, col := range cols {
		props[i] = &metadata.Property{Name: names[col.Name], Column: col.Name, Type: col.Type, Nullable: col.Nullable,
			MaxLength: col.MaxLength, Precision: col.Precision, Scale: col.Scale, ScaleSet: col.ScaleSet,
			Computed: col.Computed, Description: col.Comment, DBType: col.DBType, TextForm: col.TextForm}
	}
	return props, nil
}

// references carries a table's foreign keys into the model, with the
// property that serves each column (nil for a column left out).
func references(t Table, props []*metadata.Property) []metadata.Reference {
	var out []metadata.Reference
	for _, fk := range t.ForeignKeys {
		ref := metadata.Reference{Name: fk.Name, Columns: fk.Columns, TargetSchema: fk.RefSchema,
			TargetTable: fk.RefTable, TargetColumns: fk.RefColumns}
		if ref.TargetSchema == "" {
			ref.TargetSchema = t.Schema
		}
		for _, col := range fk.Columns {
			ref.Properties = append(ref.Properties, propertyOf(props, col))
		}
		out = append(out, ref)
	}
	return out
}

// uniqueKeys are the table's unique keys whose columns are all served.
func uniqueKeys(t Table, props []*metadata.Property) [][]*metadata.Property {
	var out [][]*metadata.Property
next:
	for _, cols := range append([][]string{t.PrimaryKey}, t.UniqueKeys...) {
		if len(cols) == 0 {
			continue
		}
		var key []*metadata.Property
		for _, col := range cols {
			p := propertyOf(props, col)
			if p == nil {
				continue next
			}
			key = append(key, p)
		}
		out = append(out, key)
	}
	return out
}

func propertyOf(props []*metadata.Property, column string) *metadata.Property {
	for _, p := range props {
		if p.Column == column {
			return p
		}
	}
	return nil
}

func hasColumn(cols []Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}

func propNamesFor(props []*metadata.Property, column string) string {
	for _, p := range props {
		if p.Column == column {
			return p.Name
		}
	}
	return column
}

// LogReport writes what BuildModel decided to the source's log, so an admin
// sees at start which tables were left out and which names changed.
func LogReport(opts Options, svc *metadata.Service, rep metadata.Decisions) {
	log := opts.Logger.With("source", opts.Name)
	for _, s := range rep.Skipped {
		log.Warn("left out of the service", "object", s.Object, "reason", s.Reason)
	}
	for _, r := range rep.Renamed {
		log.Info("name changed for Salesforce", "database_name", r.Original, "odata_name", r.Name, "reason", r.Reason)
	}
	for _, es := range svc.Sets {
		var searched []string
		for _, p := range es.SearchedProperties() {
			searched = append(searched, p.Name)
		}
		level := slog.LevelDebug
		if len(es.Search) > 0 || es.Count.Mode != metadata.CountExact {
			level = slog.LevelInfo // what the configuration changed is worth a line
		}
		log.Log(context.Background(), level, "entity set", "set", es.Name, "table", es.Table, "search_reads", strings.Join(searched, ","), "count", string(es.Count.Mode))
	}
	log.Info("source ready", "entity_sets", len(svc.Sets), "metadata_version", svc.Version())
}
