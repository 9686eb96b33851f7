// Package salesforce is the Salesforce side of a service, made from its
// model: the report of what Salesforce Connect will make of a source (the
// object each table becomes, the field type each column becomes, and
// every problem that would make a sync fail or lose data, with what to do
// about it), the Metadata API package that sets the org up in one deploy
// (data source, credentials, external objects with their fields and
// lookups, a permission set), and its comparison with what an org holds.
// `odatagw check` and `odatagw salesforce` print them; the admin API and
// page show them.
package salesforce

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

// Severity orders problems: an error loses a table or field in
// Salesforce, a warning may lose data or surprise users, info explains a
// decision.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Problem is one thing an admin should know, and what to do about it.
type Problem struct {
	Severity Severity `json:"severity"`
	Object   string   `json:"object"` // table or table.column, as the database names it
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Field is one column as Salesforce will see it.
type Field struct {
	Name           string `json:"name"`   // OData property name; the Salesforce field is Name__c
	Column         string `json:"column"` // database column
	DBType         string `json:"db_type,omitempty"`
	EdmType        string `json:"edm_type"`
	SalesforceType string `json:"salesforce_type"` // "" when sync does not support it
	Key            bool   `json:"key,omitempty"`
	Nullable       bool   `json:"nullable"`
	ReadOnly       bool   `json:"read_only,omitempty"` // computed by the database
	// Lookup says what the package makes of the field when it is a
	// relationship: "External Lookup to Customers__x".
	Lookup string `json:"lookup,omitempty"`
}

// Table is one entity set: one Salesforce external object.
type Table struct {
	EntitySet string `json:"entity_set"` // the external object is EntitySet__x
	Table     string `json:"table"`      // schema.table as the database names it
	View      bool   `json:"view,omitempty"`
	Writable  bool   `json:"writable"`
	// Summary, on a summary set, names the table whose groups it holds.
	Summary string   `json:"summary,omitempty"`
	Key     []string `json:"key"`
	Fields  []Field  `json:"fields"`
	// Searched lists the properties Salesforce's search ($search) reads.
	Searched []string `json:"searched"`
	// Tracked: changes are logged (odatagw track): delta links for
	// External Change Data Capture, and exact counts without a scan.
	Tracked bool `json:"tracked,omitempty"`
	// NameField is the property that names the object's records in
	// Salesforce, "" for none (then the External ID does).
	NameField string    `json:"name_field,omitempty"`
	Problems  []Problem `json:"problems,omitempty"`
}

// Report is the whole source.
type Report struct {
	Tables   []Table   `json:"tables"`
	Problems []Problem `json:"problems,omitempty"` // what was left out of the service entirely
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	// Indexes are those Salesforce's traffic needs and the database lacks,
	// ready to run, on tables big enough for an index to matter
	// (metadata.AdviseFromRows); SmallTables are the same advice for the
	// smaller tables, kept apart.
	Indexes     []metadata.IndexAdvice `json:"indexes"`
	SmallTables []metadata.IndexAdvice `json:"indexes_on_small_tables,omitempty"`
	// Standbys are what was found of each PostgreSQL standby that takes
	// the source's reads, counted among the errors and warnings.
	Standbys []Problem `json:"standbys,omitempty"`
}

// AddStandby adds what was found of a standby, counted.
func (r *Report) AddStandby(p Problem) {
	r.Standbys = append(r.Standbys, p)
	r.count(p)
}

// AddProblem adds a problem about the source as a whole, counted.
func (r *Report) AddProblem(p Problem) {
	r.Problems = append(r.Problems, p)
	r.count(p)
}

// count counts a problem among the errors or the warnings.
func (r *Report) count(p Problem) {
	switch p.Severity {
	case Error:
		r.Errors++
	case Warning:
		r.Warnings++
	}
}

// WriteIndexSQL writes the advised indexes as a script psql runs as it is:
// the extension it needs first, then each index with its reason.
// With small, the advice for tables under metadata.AdviseFromRows rows
// comes too.
func (r Report) WriteIndexSQL(w io.Writer, small bool) error {
	var b strings.Builder
	list := r.Indexes
	if small {
		list = append(slices.Clone(list), r.SmallTables...)
	}
	switch {
	case len(list) == 0 && len(r.SmallTables) > 0:
		fmt.Fprintf(&b, "-- no index to add: every column Salesforce's traffic filters, searches or sorts on has one, "+
			"or its table has fewer than %s rows, which a sequential scan reads at once (%d such; --small-tables prints them)\n",
			thousands(metadata.AdviseFromRows), len(r.SmallTables))
	case len(list) == 0:
		b.WriteString("-- no index to add: every column Salesforce's traffic filters, searches or sorts on has one\n")
	case !small && len(r.SmallTables) > 0:
		fmt.Fprintf(&b, "-- %d more for tables under %s rows are left out (--small-tables prints them)\n", len(r.SmallTables), thousands(metadata.AdviseFromRows))
	}
	needs := map[string]bool{}
	for _, ix := range list {
		if ix.Needs != "" && !needs[ix.Needs] {
			needs[ix.Needs] = true
			b.WriteString(ix.Needs + "\n")
		}
	}
	for _, ix := range list {
		fmt.Fprintf(&b, "-- %s (%s), about %s rows: %s\n%s\n", ix.Table, ix.Column, thousands(ix.Rows), ix.Reason, ix.SQL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MaxFields is where a warning about the number of fields starts: each
// column becomes a custom field, and Salesforce's per-object custom field
// allowance is 100 in its smallest editions.
const MaxFields = 100

// TextDefaultLength is the length Salesforce gives a string field whose
// length the metadata does not state.
const TextDefaultLength = 128

// SalesforceType is the field type Salesforce's sync creates for a
// property, following its documented mapping; "" when sync skips it.
func SalesforceType(p *metadata.Property) string {
	switch p.Type {
	case metadata.Boolean:
		return "Checkbox"
	case metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64, metadata.Single, metadata.Double, metadata.Decimal:
		return "Number"
	case metadata.Date:
		return "Date/Time (time 00:00)"
	case metadata.DateTimeOffset:
		return "Date/Time"
	case metadata.GUID:
		return "Text(36)"
	case metadata.String:
		switch {
		case p.MaxLength == 0:
			return fmt.Sprintf("Text(%d)", TextDefaultLength)
		case p.MaxLength <= 255:
			return fmt.Sprintf("Text(%d)", p.MaxLength)
		default:
			return fmt.Sprintf("Long Text Area(%d)", p.MaxLength)
		}
	case metadata.Binary:
		return "Text Area (base64)"
	}
	return ""
}

// Build makes the report for a model, what building it decided and the
// admin's choices for the Salesforce side.
func Build(svc *metadata.Service, rep metadata.Decisions, ch Choices) Report {
	return build(svc, rep, ch, true)
}

// BuildService makes the report of a service over several sources: its
// tables under the service's names with their lookups, within and across
// sources, and what keeps one from being a lookup. What each source's
// report says of its own tables and columns is not said again.
func BuildService(svc *metadata.Service, ch Choices) Report {
	return build(svc, metadata.Decisions{}, ch, false)
}

func build(svc *metadata.Service, rep metadata.Decisions, ch Choices, tableProblems bool) Report {
	r := Report{Indexes: []metadata.IndexAdvice{}}
	d := decide(svc, ch)
	for _, es := range svc.Sets {
		t := table(es)
		if !tableProblems {
			t.Problems = nil
		}
		t.Problems = append(t.Problems, d.problems[es]...)
		if p := d.nameFields[es]; p != nil {
			t.NameField = p.Name
		}
		for i, f := range t.Fields {
			p, _ := es.Type.Property(f.Name)
			if l, ok := d.lookups[p]; ok {
				t.Fields[i].Lookup = l.describe()
			}
		}
		r.Tables = append(r.Tables, t)
	}
	for _, err := range d.errs {
		r.Problems = append(r.Problems, Problem{Severity: Error, Object: "salesforce", Message: err.Error(),
			Fix: "change the source's lookups or name_fields setting"})
	}
	for _, s := range rep.Skipped {
		r.Problems = append(r.Problems, Problem{Severity: Error, Object: s.Object,
			Message: "left out of the service: " + s.Reason,
			Fix:     fixFor(s.Reason)})
	}
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].Object < r.Problems[j].Object })
	count := func(ps []Problem) {
		for _, p := range ps {
			switch p.Severity {
			case Error:
				r.Errors++
			case Warning:
				r.Warnings++
			}
		}
	}
	count(r.Problems)
	for _, t := range r.Tables {
		count(t.Problems)
	}
	return r
}

func fixFor(reason string) string {
	switch {
	case strings.Contains(reason, "keys:"):
		return "" // the reason already says which setting to add
	case strings.Contains(reason, "has no OData equivalent"):
		return "Salesforce cannot show this type; if the data matters, expose a view that casts the column to text or a number"
	}
	return ""
}

func dbName(es *metadata.EntitySet) string {
	if es.Summary != nil {
		return es.Name // no table of its own: the configuration names it
	}
	if es.Schema == "" {
		return es.Table
	}
	return es.Schema + "." + es.Table
}

func table(es *metadata.EntitySet) Table {
	t := Table{EntitySet: es.Name, Table: dbName(es), View: es.IsView, Writable: !es.ReadOnly, Tracked: es.Tracked}
	for _, k := range es.Type.Key {
		t.Key = append(t.Key, k.Name)
	}
	t.Searched = []string{}
	for _, p := range es.SearchedProperties() {
		t.Searched = append(t.Searched, p.Name)
	}
	add := func(sev Severity, object, msg, fix string) {
		t.Problems = append(t.Problems, Problem{Severity: sev, Object: object, Message: msg, Fix: fix})
	}
	if es.Summary != nil {
		t.Summary = es.Summary.Table
		add(Info, t.Table, "a summary of "+es.Summary.Table+": each record is a group the database computes on every read, read-only; "+
			"report on it with its report type, or show it on a parent's page through its lookups", "")
	}
	if es.Name != es.Table && es.Summary == nil {
		add(Info, t.Table, fmt.Sprintf("served as %s (external object %s__x): the database name is not a valid Salesforce API name or collides with another", es.Name, es.Name),
			"to choose the name yourself, set names: {"+es.Table+": Name} in the source")
	}
	if len(es.Type.Key) > 1 {
		add(Info, t.Table, "composite key ("+strings.Join(t.Key, ", ")+"): Salesforce's External ID joins the key values", "")
	}
	for _, p := range es.Type.Properties {
		f := Field{Name: p.Name, Column: p.Column, DBType: p.DBType, EdmType: string(p.Type),
			SalesforceType: SalesforceType(p), Key: es.Type.IsKey(p), Nullable: p.Nullable, ReadOnly: p.Computed}
		t.Fields = append(t.Fields, f)
		obj := t.Table + "." + p.Column
		if es.Summary != nil && p.Computed {
			continue // a measure's or the label's type is the gateway's choice, said in docs/salesforce.md
		}
		if p.Name != p.Column {
			add(Info, obj, fmt.Sprintf("served as field %s__c: the column name is not a valid Salesforce API name or collides with another", p.Name),
				"to choose the name yourself, set columns: {"+es.Table+": {"+p.Column+": Name}} in the source")
		}
		switch {
		case f.SalesforceType == "":
			add(Warning, obj, fmt.Sprintf("%s is not synced by Salesforce: the field will be missing from the external object", p.Type),
				"if users need it, expose a view that casts the column to text")
		case p.Type == metadata.String && p.MaxLength == 0:
			add(Warning, obj, fmt.Sprintf("unbounded text becomes Text(%d) in Salesforce: longer values are cut in list views and reports", TextDefaultLength),
				"declare the column with a length (varchar(n)), or after the sync change the field to Long Text Area in Salesforce")
		case p.Type == metadata.Decimal && (p.Precision == 0 || p.Precision > 18):
			add(Warning, obj, "Salesforce numbers hold at most 18 digits: larger values lose precision",
				"declare the column numeric(p,s) with p at most 18, or serve it as text through a view")
		}
	}
	if n := len(es.Type.Properties); n > MaxFields {
		add(Warning, t.Table, fmt.Sprintf("%d columns: each becomes a custom field, and Salesforce allows %d per object in its smallest editions", n, MaxFields),
			"leave columns Salesforce does not need out through a view")
	}
	return t
}

// thousands writes n with commas: 12,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
