package salesforce

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/odatagw/odatagw/metadata"
)

// Choices are the admin's settings for the Salesforce side of a source,
// beyond what the database says.
type Choices struct {
	// NameFields names, per entity set, the property whose value names a
	// record in Salesforce (its link in lists and lookups); "" for none.
	// A set not named gets DefaultNameField's choice.
	NameFields map[string]string `json:"name_fields,omitempty"`
	// Lookups makes columns Indirect Lookups: "table.column" (as the
	// database names them) to "Object.Field__c", a unique External ID
	// field of a Salesforce object, so that the row shows on that record.
	Lookups map[string]string `json:"lookups,omitempty"`
}

// Lookup is a field the package makes a relationship.
type Lookup struct {
	Set      string `json:"set"`      // the child entity set
	Property string `json:"property"` // the child's property holding the reference
	// Kind is ExternalLookup (to another external object, matched
	// against its External ID: the key) or IndirectLookup (to a
	// Salesforce object's unique External ID field).
	Kind              string `json:"kind"`
	ReferenceTo       string `json:"reference_to"`           // Parent__x, or Account
	TargetField       string `json:"target_field,omitempty"` // IndirectLookup: Account.ERP_Number__c
	RelationshipName  string `json:"relationship_name"`      // the related list's API name on the parent
	RelationshipLabel string `json:"relationship_label"`     // the related list's title
	ForeignKey        string `json:"foreign_key,omitempty"`  // the constraint it comes from
	length            int
}

// describe says what the field becomes, for reports.
func (l Lookup) describe() string {
	if l.Kind == "IndirectLookup" {
		return "Indirect Lookup to " + l.TargetField
	}
	return "External Lookup to " + l.ReferenceTo
}

// decisions are what the package makes of a model and the choices: which
// fields are lookups, which names a record, and why some foreign keys
// stay plain fields.
type decisions struct {
	lookups    map[*metadata.Property]Lookup
	nameFields map[*metadata.EntitySet]*metadata.Property
	problems   map[*metadata.EntitySet][]Problem
	errs       []error // choices that cannot be carried out
}

func decide(svc *metadata.Service, ch Choices) decisions {
	d := decisions{lookups: map[*metadata.Property]Lookup{}, nameFields: map[*metadata.EntitySet]*metadata.Property{},
		problems: map[*metadata.EntitySet][]Problem{}}
	add := func(es *metadata.EntitySet, sev Severity, obj, msg, fix string) {
		d.problems[es] = append(d.problems[es], Problem{Severity: sev, Object: obj, Message: msg, Fix: fix})
	}
	// name fields: configured, else the default
	for set, prop := range ch.NameFields {
		es, ok := svc.EntitySet(set)
		if !ok {
			d.errs = append(d.errs, fmt.Errorf("name_fields: this source has no entity set named %s", set))
			continue
		}
		if prop == "" {
			d.nameFields[es] = nil
			continue
		}
		p, ok := es.Type.Property(prop)
		switch {
		case !ok:
			d.errs = append(d.errs, fmt.Errorf("name_fields: %s has no property %s", set, prop))
		case p.Type != metadata.String || p.MaxLength > 255:
			d.errs = append(d.errs, fmt.Errorf("name_fields: %s.%s is not a text field of at most 255 characters, which a name field must be", set, prop))
		default:
			d.nameFields[es] = p
		}
	}
	for _, es := range svc.Sets {
		if _, chosen := d.nameFields[es]; !chosen {
			d.nameFields[es] = DefaultNameField(es)
		}
	}
	// Indirect Lookups, from the configuration
	keys := make([]string, 0, len(ch.Lookups))
	for k := range ch.Lookups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		target := ch.Lookups[k]
		es, p, err := columnOf(svc, k)
		if err == nil {
			err = metadata.CheckExternalIDField(target)
		}
		if err == nil && !indirectKinds[p.Type] {
			err = fmt.Errorf("lookups: %s is %s, which cannot hold an External ID value: use a text or whole-number column", k, p.Type)
		}
		if err != nil {
			d.errs = append(d.errs, fmt.Errorf("lookups: %w", err))
			continue
		}
		obj, _, _ := strings.Cut(target, ".")
		d.lookups[p] = Lookup{Set: es.Name, Property: p.Name, Kind: "IndirectLookup", ReferenceTo: obj, TargetField: target,
			length: textLength(p)}
	}
	// a summary's dimension over a column with an Indirect Lookup is one
	// too: the summary shows on the same record
	for _, es := range svc.Sets {
		if es.Summary == nil {
			continue
		}
		for _, part := range es.Summary.Dimensions() {
			target, ok := ch.Lookups[es.Summary.Table+"."+part.Of.Column]
			if own, base := es.Summary.Set.Type.Property(part.Of.Name); !ok || part.Bucket != "" || !base || own != part.Of {
				continue
			}
			if _, configured := d.lookups[part.Prop]; configured || metadata.CheckExternalIDField(target) != nil || !indirectKinds[part.Prop.Type] {
				continue
			}
			obj, _, _ := strings.Cut(target, ".")
			d.lookups[part.Prop] = Lookup{Set: es.Name, Property: part.Prop.Name, Kind: "IndirectLookup", ReferenceTo: obj, TargetField: target,
				length: textLength(part.Prop)}
		}
	}
	// External Lookups, from the foreign keys
	for _, es := range svc.Sets {
		for _, ref := range es.References {
			obj := dbName(es) + "." + strings.Join(ref.Columns, ",")
			target := ref.TargetTable
			if ref.TargetSchema != "" && ref.TargetSchema != es.Schema {
				target = ref.TargetSchema + "." + target
			}
			if len(ref.Columns) != 1 {
				add(es, Info, obj, fmt.Sprintf("composite foreign key (%s) to %s stays plain fields: a Salesforce lookup holds one value",
					strings.Join(ref.Columns, ", "), target), "")
				continue
			}
			p := ref.Properties[0]
			if p == nil {
				continue // the column is not served: there is no field to make a lookup
			}
			if _, configured := d.lookups[p]; configured {
				continue // the configuration's Indirect Lookup wins
			}
			parent, ok := svc.SetOfTable(ref.TargetSchema, ref.TargetTable)
			if ref.TargetSet != "" {
				parent, ok = svc.EntitySet(ref.TargetSet)
				target = ref.TargetSet
			}
			if !ok {
				add(es, Info, obj, fmt.Sprintf("foreign key to %s stays a plain field: %s is not served", target, target),
					"serve "+target+" to make "+p.Name+" an External Lookup to it")
				continue
			}
			if len(parent.Type.Key) != 1 || parent.Type.Key[0].Column != ref.TargetColumns[0] {
				if ref.TargetSet != "" && strings.HasPrefix(ref.Name, "relation ") {
					add(es, Warning, obj, fmt.Sprintf("the relation to %s.%s stays a plain field: an External Lookup matches the parent's External ID, which is its key (%s)",
						target, ref.TargetColumns[0], keyColumns(parent)),
						fmt.Sprintf("make %s the key of %s (keys: {%s: [%s]} on its source) so that its External ID holds it", ref.TargetColumns[0], target, parent.Table, ref.TargetColumns[0]))
					continue
				}
				add(es, Info, obj, fmt.Sprintf("foreign key to %s.%s stays a plain field: an External Lookup matches the parent's key (%s), and %s is not it",
					target, ref.TargetColumns[0], keyColumns(parent), ref.TargetColumns[0]), "")
				continue
			}
			d.lookups[p] = Lookup{Set: es.Name, Property: p.Name, Kind: "ExternalLookup", ReferenceTo: parent.Name + "__x",
				ForeignKey: ref.Name, length: textLength(parent.Type.Key[0])}
		}
	}
	nameRelationships(svc, d.lookups)
	return d
}

// CheckChoices says what in the choices cannot be carried out on this
// model: a set, column or Salesforce field that cannot be what it is
// named for.
func CheckChoices(svc *metadata.Service, ch Choices) error {
	return errors.Join(decide(svc, ch).errs...)
}

// indirectKinds are the types whose values can be an External ID's.
var indirectKinds = map[metadata.Type]bool{metadata.String: true, metadata.GUID: true,
	metadata.Byte: true, metadata.Int16: true, metadata.Int32: true, metadata.Int64: true}

func keyColumns(es *metadata.EntitySet) string {
	var cols []string
	for _, k := range es.Type.Key {
		cols = append(cols, k.Column)
	}
	return strings.Join(cols, ", ")
}

// columnOf finds the property a lookups entry names: table.column as the
// database names them (schema.table.column outside the first schema), or
// the entity set and property names.
func columnOf(svc *metadata.Service, key string) (*metadata.EntitySet, *metadata.Property, error) {
	i := strings.LastIndex(key, ".")
	if i <= 0 || i == len(key)-1 {
		return nil, nil, fmt.Errorf("%q does not name a column: write table.column", key)
	}
	table, column := key[:i], key[i+1:]
	for _, es := range svc.Sets {
		if es.Table != table && dbName(es) != table && es.Name != table {
			continue
		}
		for _, p := range es.Type.Properties {
			if p.Column == column || p.Name == column {
				return es, p, nil
			}
		}
		return nil, nil, fmt.Errorf("%s has no served column %s", table, column)
	}
	return nil, nil, fmt.Errorf("no served table is called %s", table)
}

// nameRelationships gives each lookup its related list's name and label,
// unique within the parent: the child set's, then the child set's with
// the field's when one child refers to a parent twice.
func nameRelationships(svc *metadata.Service, lookups map[*metadata.Property]Lookup) {
	used := map[string]map[string]bool{} // parent -> relationship names taken
	labels := map[string]map[string]bool{}
	for _, es := range svc.Sets {
		for _, p := range es.Type.Properties {
			l, ok := lookups[p]
			if !ok {
				continue
			}
			if used[l.ReferenceTo] == nil {
				used[l.ReferenceTo], labels[l.ReferenceTo] = map[string]bool{}, map[string]bool{}
			}
			name := metadata.Sanitize(es.Name, "R")
			if used[l.ReferenceTo][strings.ToLower(name)] {
				name = metadata.Sanitize(es.Name+"_"+p.Name, "R")
			}
			for n := 2; used[l.ReferenceTo][strings.ToLower(name)]; n++ {
				name = metadata.Sanitize(fmt.Sprintf("%s_%s%d", es.Name, p.Name, n), "R")
			}
			used[l.ReferenceTo][strings.ToLower(name)] = true
			label := clip(pluralLabel(es.Name))
			if labels[l.ReferenceTo][label] {
				label = clip(pluralLabel(es.Name) + " (" + fieldLabel(p.Name) + ")")
			}
			labels[l.ReferenceTo][label] = true
			l.RelationshipName, l.RelationshipLabel = name, label
			lookups[p] = l
		}
	}
}

// DefaultNameField is the property that names a set's records when the
// configuration says nothing: a summary's label; a unique, non-null text
// column called like a name (name, title, code, or ending so), else none.
func DefaultNameField(es *metadata.EntitySet) *metadata.Property {
	if es.Summary != nil {
		for _, part := range es.Summary.Parts {
			if part.Kind == metadata.Label {
				return part.Prop
			}
		}
	}
	var best *metadata.Property
	bestRank := 99
	for _, key := range es.UniqueKeys {
		if len(key) != 1 {
			continue
		}
		p := key[0]
		if p.Type != metadata.String || p.Nullable || p.MaxLength > 255 {
			continue
		}
		n := strings.ToLower(strings.ReplaceAll(p.Name, "_", ""))
		for rank, word := range []string{"name", "title", "code"} {
			if (n == word || strings.HasSuffix(n, word)) && rank < bestRank {
				best, bestRank = p, rank
			}
		}
	}
	return best
}

// textLength is how long a value of p is as text: an External Lookup's
// field holds the parent's key as text.
func textLength(p *metadata.Property) int {
	switch p.Type {
	case metadata.Byte:
		return 3
	case metadata.Int16:
		return 6
	case metadata.Int32:
		return 11
	case metadata.Int64:
		return 20
	case metadata.GUID:
		return 36
	case metadata.String:
		if p.MaxLength > 0 && p.MaxLength <= 255 {
			return p.MaxLength
		}
	}
	return 255
}

// field is the custom field Salesforce's sync makes of a property, with
// what the decisions add; false when sync skips the type.
func field(p *metadata.Property, d decisions, es *metadata.EntitySet) (customField, bool) {
	f := customField{FullName: p.Name + "__c", Description: clipDescription(p.Description), ExternalDeveloperName: p.Name,
		ExternalID: ptr(false), IsNameField: ptr(d.nameFields[es] == p), Label: clip(fieldLabel(p.Name))}
	if l, ok := d.lookups[p]; ok {
		f.Type, f.Length, f.ReferenceTo = l.Kind, ptr(l.length), l.ReferenceTo
		f.ReferenceTargetField = l.TargetField
		f.RelationshipLabel, f.RelationshipName = l.RelationshipLabel, l.RelationshipName
		f.IsNameField = ptr(false)
		return f, true
	}
	f.Required = ptr(false)
	switch p.Type {
	case metadata.Boolean:
		f.Type, f.DefaultValue, f.Required = "Checkbox", "false", nil
	case metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64:
		f.Type, f.Precision, f.Scale = "Number", ptr(18), ptr(0)
	case metadata.Single, metadata.Double:
		f.Type, f.Precision, f.Scale = "Number", ptr(18), ptr(FloatScale)
	case metadata.Decimal:
		prec, scale := p.Precision, p.Scale
		if prec <= 0 || prec > 18 {
			prec = 18
		}
		if !p.ScaleSet {
			scale = FloatScale
		}
		scale = min(scale, prec)
		f.Type, f.Precision, f.Scale = "Number", ptr(prec), ptr(scale)
	case metadata.Date, metadata.DateTimeOffset:
		f.Type = "DateTime"
	case metadata.GUID:
		f.Type, f.Length = "Text", ptr(36)
	case metadata.String:
		switch n := p.MaxLength; {
		case n == 0:
			f.Type, f.Length = "Text", ptr(TextDefaultLength)
		case n <= 255:
			f.Type, f.Length = "Text", ptr(n)
		default:
			f.Type, f.Length, f.VisibleLines = "LongTextArea", ptr(min(n, MaxLongText)), ptr(3)
		}
	case metadata.Binary:
		f.Type = "TextArea"
	default:
		return customField{}, false
	}
	if f.Type != "Text" {
		f.IsNameField = ptr(false)
	}
	if f.Type == "Text" || f.Type == "Number" {
		f.Unique = ptr(false)
	}
	return f, true
}

// FloatScale is the scale a floating-point or variable-scale number gets:
// Salesforce numbers have a fixed scale, and 6 places keep what a
// double's readers expect to see.
const FloatScale = 6

// MaxLongText is the longest Long Text Area Salesforce allows.
const MaxLongText = 131072

// objectFor is a set's external object.
func objectFor(es *metadata.EntitySet, d decisions, dataSource string) customObject {
	o := customObject{NS: metadataNS, DeploymentStatus: "Deployed", Description: clipDescription(es.Description),
		EnableReports: ptr(true), EnableSearch: ptr(len(es.SearchedProperties()) > 0),
		ExternalDataSource: dataSource, ExternalName: es.Name,
		Label: clip(objectLabel(es.Name)), PluralLabel: clip(pluralLabel(es.Name))}
	for _, p := range es.Type.Properties {
		if f, ok := field(p, d, es); ok {
			o.Fields = append(o.Fields, f)
		}
	}
	sort.Slice(o.Fields, func(i, j int) bool { return o.Fields[i].FullName < o.Fields[j].FullName })
	return o
}

// words splits an API name into words: at underscores, and where a
// lower-case letter or digit meets an upper-case one (CustomerId,
// HTTPStatus).
func words(name string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == ' ' || r == '-' }) {
		rs := []rune(part)
		start := 0
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			next := rune(0)
			if i+1 < len(rs) {
				next = rs[i+1]
			}
			if unicode.IsUpper(cur) && (unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && unicode.IsLower(next)) {
				out = append(out, string(rs[start:i]))
				start = i
			}
		}
		out = append(out, string(rs[start:]))
	}
	return out
}

func titled(ws []string) string {
	for i, w := range ws {
		r, n := utf8.DecodeRuneInString(w)
		ws[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(ws, " ")
}

func fieldLabel(name string) string { return titled(words(name)) }

// objectLabel is the singular: order_lines and OrderLines give Order Line.
func objectLabel(name string) string {
	ws := words(name)
	if len(ws) > 0 {
		ws[len(ws)-1] = singular(ws[len(ws)-1])
	}
	return titled(ws)
}

func pluralLabel(name string) string {
	ws := words(name)
	if len(ws) > 0 {
		ws[len(ws)-1] = plural(singular(ws[len(ws)-1]))
	}
	return titled(ws)
}

func singular(w string) string {
	l := strings.ToLower(w)
	switch {
	case strings.HasSuffix(l, "ies") && len(l) > 3:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(l, "sses"), strings.HasSuffix(l, "xes"), strings.HasSuffix(l, "ches"), strings.HasSuffix(l, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(l, "ss"), strings.HasSuffix(l, "us"), strings.HasSuffix(l, "is"):
		return w
	case strings.HasSuffix(l, "s") && len(l) > 1:
		return w[:len(w)-1]
	}
	return w
}

func plural(w string) string {
	l := strings.ToLower(w)
	switch {
	case strings.HasSuffix(l, "y") && len(l) > 1 && !strings.ContainsRune("aeiou", rune(l[len(l)-2])):
		return w[:len(w)-1] + "ies"
	case strings.HasSuffix(l, "s"), strings.HasSuffix(l, "x"), strings.HasSuffix(l, "ch"), strings.HasSuffix(l, "sh"):
		return w + "es"
	}
	return w + "s"
}

// clip keeps a label within Salesforce's 40 characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:40]))
}

// clipDescription keeps a description within Salesforce's 1,000.
func clipDescription(s string) string {
	if utf8.RuneCountInString(s) <= 1000 {
		return s
	}
	return string([]rune(s)[:999]) + "…"
}
