package salesforce

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/odatagw/odatagw/metadata"
)

// WriteText prints the report for a terminal: per table its object, key
// and fields, then every problem with what to do.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, t := range r.Tables {
		kind := "table"
		switch {
		case t.Summary != "":
			kind = "summary of " + t.Summary + ":"
		case t.View:
			kind = "view"
		}
		access := "writable"
		if !t.Writable {
			access = "read-only"
		}
		fmt.Fprintf(&b, "%s %s -> entity set %s, external object %s__x (%s), key %s\n",
			kind, t.Table, t.EntitySet, t.EntitySet, access, strings.Join(t.Key, ", "))
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  column\tproperty\tEdm type\tSalesforce field")
		for _, f := range t.Fields {
			sf := f.SalesforceType
			if sf == "" {
				sf = "(not synced)"
			}
			if f.Key {
				sf += ", External ID"
			}
			if f.Lookup != "" {
				sf = f.Lookup
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Column, f.Name, f.EdmType, sf)
		}
		tw.Flush()
		if len(t.Searched) > 0 {
			fmt.Fprintf(&b, "  search reads %s\n", strings.Join(t.Searched, ", "))
		} else {
			fmt.Fprintf(&b, "  search reads nothing (no text property): it finds no rows\n")
		}
		if t.NameField != "" {
			fmt.Fprintf(&b, "  records are named by %s\n", t.NameField)
		}
		for _, p := range t.Problems {
			writeProblem(&b, p)
		}
		b.WriteString("\n")
	}
	if len(r.Problems) > 0 {
		b.WriteString("left out of the service:\n")
		for _, p := range r.Problems {
			writeProblem(&b, p)
		}
		b.WriteString("\n")
	}
	if len(r.Standbys) > 0 {
		b.WriteString("standbys, which take the reads:\n")
		for _, p := range r.Standbys {
			writeProblem(&b, p)
		}
		b.WriteString("\n")
	}
	if len(r.Indexes) > 0 {
		fmt.Fprintf(&b, "%d indexes that Salesforce's traffic needs are missing; odatagw check --indexes prints them, ready to run\n", len(r.Indexes))
	}
	if len(r.SmallTables) > 0 {
		fmt.Fprintf(&b, "%d more would serve tables under %s rows, where a sequential scan is as fast: not advised (--indexes --small-tables prints them)\n", len(r.SmallTables), thousands(metadata.AdviseFromRows))
	}
	fmt.Fprintf(&b, "%s, %s, %s\n", counted(len(r.Tables), "entity set"), counted(r.Errors, "error"), counted(r.Warnings, "warning"))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProblem(b *strings.Builder, p Problem) {
	fmt.Fprintf(b, "  %s: %s: %s\n", p.Severity, p.Object, p.Message)
	if p.Fix != "" {
		fmt.Fprintf(b, "    fix: %s\n", p.Fix)
	}
}

// counted says how many: "1 error", "2 errors".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
