package salesforce

import (
	"sort"
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

// Standard report types cover no external object, so the package brings
// custom ones (ReportType, API 38.0 and later), ready to report on:
//   - one per summary set, its object the primary one, every field offered;
//   - one per lookup of a set: the parent (an external object, or the
//     Salesforce object of an Indirect Lookup) with the set's records, so
//     that a report groups the children, or a summary's groups, by their
//     parent.

// ReportTypeCategory is where the report types appear in the report
// builder.
const ReportTypeCategory = "other"

// reportTypes are the package's report types, by developer name.
func reportTypes(svc *metadata.Service, d decisions, objects map[string]customObject) map[string]reportType {
	out := map[string]reportType{}
	taken := map[string]bool{}
	name := func(parts ...string) string {
		n := metadata.Sanitize(strings.Join(parts, "_"), "R")
		n = strings.TrimRight(n[:min(len(n), metadata.MaxNameLength)], "_")
		for i := 2; taken[strings.ToLower(n)]; i++ {
			suffix := "_" + strconv.Itoa(i)
			n = strings.TrimRight(n[:min(len(n), metadata.MaxNameLength-len(suffix))], "_") + suffix
		}
		taken[strings.ToLower(n)] = true
		return n
	}
	columns := func(table string, o customObject, all bool) []reportTypeColumn {
		var cols []reportTypeColumn
		for _, f := range o.Fields {
			cols = append(cols, reportTypeColumn{CheckedByDefault: all || (f.IsNameField != nil && *f.IsNameField), Field: f.FullName, Table: table})
		}
		return cols
	}
	for _, es := range svc.Sets {
		o := objects[es.Name]
		obj := es.Name + "__x"
		if es.Summary != nil {
			out[name(es.Name, "summary")] = reportType{NS: metadataNS, BaseObject: obj, Category: ReportTypeCategory, Deployed: true,
				Description: clipDescription(es.Description + ". Made by odatagw."),
				Label:       clip(fieldLabel(es.Name)),
				Sections:    []reportLayoutSection{{Columns: columns(obj, o, true), MasterLabel: clip(fieldLabel(es.Name))}}}
		}
		for _, p := range es.Type.Properties {
			l, ok := d.lookups[p]
			if !ok {
				continue
			}
			parent := l.ReferenceTo
			rel := parent + "." + l.RelationshipName + "__r"
			rt := reportType{NS: metadataNS, BaseObject: parent, Category: ReportTypeCategory, Deployed: true,
				Description: clipDescription(objectLabel(strings.TrimSuffix(parent, "__x")) + " records with their " + pluralLabel(es.Name) +
					" (" + l.describe() + " on " + p.Name + "). Made by odatagw."),
				Join:  &objectRelationship{OuterJoin: true, Relationship: l.RelationshipName + "__r"},
				Label: clip(pluralLabel(strings.TrimSuffix(parent, "__x")) + " with " + pluralLabel(es.Name))}
			if po, external := objects[strings.TrimSuffix(parent, "__x")]; external && strings.HasSuffix(parent, "__x") {
				rt.Sections = append(rt.Sections, reportLayoutSection{Columns: columns(parent, po, false), MasterLabel: clip(pluralLabel(strings.TrimSuffix(parent, "__x")))})
			} else {
				// a Salesforce object: its Name, which every object has
				rt.Sections = append(rt.Sections, reportLayoutSection{Columns: []reportTypeColumn{{CheckedByDefault: true, Field: "Name", Table: parent}},
					MasterLabel: clip(pluralLabel(parent))})
			}
			rt.Sections = append(rt.Sections, reportLayoutSection{Columns: columns(rel, o, es.Summary != nil), MasterLabel: clip(pluralLabel(es.Name))})
			out[name(strings.TrimSuffix(parent, "__x"), "with", es.Name)] = rt
		}
	}
	return out
}

// reportTypeNames are the names of a bundle's report types, sorted.
func reportTypeNames(rts map[string]reportType) []string {
	names := make([]string, 0, len(rts))
	for n := range rts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
