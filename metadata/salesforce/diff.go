package salesforce

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Org is what a metadata directory retrieved from an org holds of the
// Salesforce side: its external objects with their fields, its external
// data sources and its report types.
type Org struct {
	objects     map[string]customObject // by API name
	dataSources map[string]dataSource   // by developer name
	reportTypes map[string]reportType   // by developer name
}

// ErrNotRetrieved is a directory that holds no retrieved metadata.
var ErrNotRetrieved = errors.New("not a retrieved metadata directory: it has no package.xml beside objects/ " +
	"(retrieve one with `sf project retrieve start --metadata ExternalDataSource CustomObject ReportType --target-metadata-dir DIR` and unzip DIR/unpackaged.zip)")

// ReadDir reads a retrieved metadata directory: the unzipped target of
// `sf project retrieve start --target-metadata-dir`, or a source-format
// project's folder holding objects/.
func ReadDir(dir string) (*Org, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return readFS(os.DirFS(dir))
}

// ReadZip reads a retrieved metadata directory sent as a zip.
func ReadZip(b []byte) (*Org, error) {
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a zip of a retrieved metadata directory: %w", err)
	}
	return readFS(z)
}

// maxFile bounds what one metadata file may hold: the largest object file
// (800 fields with long descriptions) is far below it.
const maxFile = 16 << 20

// readFS finds the package root (the folder with package.xml, at most
// three levels down, or with objects/ for a source-format project) and
// reads its objects and data sources.
func readFS(fsys fs.FS) (*Org, error) {
	root := ""
	found := false
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return err
		}
		if d.IsDir() && strings.Count(p, "/") >= 3 {
			return fs.SkipDir
		}
		if !d.IsDir() && d.Name() == "package.xml" || d.IsDir() && d.Name() == "objects" {
			root, found = path.Dir(p), true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotRetrieved
	}
	org := &Org{objects: map[string]customObject{}, dataSources: map[string]dataSource{}, reportTypes: map[string]reportType{}}
	read := func(p string, v any) error {
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxFile))
		if err != nil {
			return err
		}
		if err := xml.Unmarshal(data, v); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	}
	objects := path.Join(root, "objects")
	entries, _ := fs.ReadDir(fsys, objects)
	for _, e := range entries {
		switch name := e.Name(); {
		case !e.IsDir() && strings.HasSuffix(name, "__x.object"):
			var o customObject
			if err := read(path.Join(objects, name), &o); err != nil {
				return nil, err
			}
			org.objects[strings.TrimSuffix(name, ".object")] = o
		case e.IsDir() && strings.HasSuffix(name, "__x"):
			// source format: the object's file and a file per field
			var o customObject
			if err := read(path.Join(objects, name, name+".object-meta.xml"), &o); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			fields, _ := fs.ReadDir(fsys, path.Join(objects, name, "fields"))
			for _, fe := range fields {
				if !strings.HasSuffix(fe.Name(), ".field-meta.xml") {
					continue
				}
				var f struct {
					XMLName xml.Name `xml:"CustomField"`
					customField
				}
				if err := read(path.Join(objects, name, "fields", fe.Name()), &f); err != nil {
					return nil, err
				}
				o.Fields = append(o.Fields, f.customField)
			}
			org.objects[name] = o
		}
	}
	// a type's files: NAME.suffix in the metadata format, NAME.suffix-meta.xml in the source format
	each := func(dir, suffix string, read func(name, file string) error) error {
		entries, _ := fs.ReadDir(fsys, path.Join(root, dir))
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), suffix)
			if !ok {
				name, ok = strings.CutSuffix(e.Name(), suffix+"-meta.xml")
			}
			if ok {
				if err := read(name, path.Join(root, dir, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := each("dataSources", ".dataSource", func(name, file string) error {
		var ds dataSource
		err := read(file, &ds)
		org.dataSources[name] = ds
		return err
	}); err != nil {
		return nil, err
	}
	if err := each("reportTypes", ".reportType", func(name, file string) error {
		var rt reportType
		err := read(file, &rt)
		org.reportTypes[name] = rt
		return err
	}); err != nil {
		return nil, err
	}
	return org, nil
}

// Change is one difference between the package and the org.
type Change struct {
	// Kind is add (deploying creates it), change (deploying changes it),
	// leave (the org has it and the package does not: the database no
	// longer does), or overwrite (a Validate and Sync would turn it into
	// a plain field).
	Kind    string `json:"kind"`
	Object  string `json:"object"` // Customers__x, or Customers__x.Name__c
	Was     string `json:"was,omitempty"`
	Becomes string `json:"becomes,omitempty"`
	Message string `json:"message"`
}

// Diff is what deploying the package would do to an org, and what a
// later sync would undo.
type Diff struct {
	Changes []Change `json:"changes"`
	// SyncOverwrites are the lookups whose API names match a column: a
	// "Validate and Sync" of the data source turns them back into the
	// column's plain field. Deploy the package again instead of syncing.
	SyncOverwrites []Change `json:"sync_overwrites"`
}

// Agree reports whether deploying would change nothing.
func (d Diff) Agree() bool { return len(d.Changes) == 0 }

// Compare says what deploying the bundle would do to the org.
func (b *Bundle) Compare(org *Org) Diff {
	d := Diff{Changes: []Change{}, SyncOverwrites: []Change{}}
	add := func(c Change) { d.Changes = append(d.Changes, c) }
	ds, ok := org.dataSources[b.Name]
	want := b.dataSource()
	switch {
	case !ok:
		add(Change{Kind: "add", Object: b.Name, Becomes: "External Data Source " + want.Type, Message: "deploying creates the External Data Source"})
	case ds.Type != want.Type:
		add(Change{Kind: "change", Object: b.Name, Was: ds.Type, Becomes: want.Type, Message: "the data source's type changes"})
	case ds.IsWritable != want.IsWritable:
		add(Change{Kind: "change", Object: b.Name, Was: writable(ds.IsWritable), Becomes: writable(want.IsWritable), Message: "the data source's writability changes"})
	}
	ours := map[string]bool{}
	overwrites := map[string]bool{}
	overwrite := func(obj string, f customField, from string) {
		key := obj + "." + f.FullName
		if overwrites[key] || (f.Type != "ExternalLookup" && f.Type != "IndirectLookup") || f.FullName != f.ExternalDeveloperName+"__c" {
			return
		}
		overwrites[key] = true
		d.SyncOverwrites = append(d.SyncOverwrites, Change{Kind: "overwrite", Object: key, Was: describe(f),
			Message: fmt.Sprintf("%s: its API name is the column %s's, so a Validate and Sync turns it back into a plain field", from, f.ExternalDeveloperName)})
	}
	for _, want := range b.objects {
		name := want.ExternalName + "__x"
		ours[name] = true
		have, ok := org.objects[name]
		if !ok {
			add(Change{Kind: "add", Object: name, Becomes: fmt.Sprintf("%d fields", len(want.Fields)), Message: "deploying creates the external object"})
			for _, f := range want.Fields {
				overwrite(name, f, "in the package")
			}
			continue
		}
		if have.ExternalDataSource != "" && have.ExternalDataSource != b.Name {
			// moving from a source's own data source to a service's: the
			// object keeps its API name, fields, lookups and layouts
			add(Change{Kind: "change", Object: name, Was: "External Data Source " + have.ExternalDataSource, Becomes: "External Data Source " + b.Name,
				Message: "deploying moves the object to this data source; its API name, fields and the records' lookups stay"})
		}
		haveFields := map[string]customField{}
		for _, f := range have.Fields {
			haveFields[f.FullName] = f
		}
		wantFields := map[string]bool{}
		for _, f := range want.Fields {
			wantFields[f.FullName] = true
			overwrite(name, f, "in the package")
			h, ok := haveFields[f.FullName]
			switch {
			case !ok:
				add(Change{Kind: "add", Object: name + "." + f.FullName, Becomes: describe(f), Message: "deploying creates the field"})
			case describe(h) != describe(f):
				add(Change{Kind: "change", Object: name + "." + f.FullName, Was: describe(h), Becomes: describe(f), Message: "deploying changes the field"})
			}
		}
		for _, h := range have.Fields {
			overwrite(name, h, "in the org")
			if !wantFields[h.FullName] {
				add(Change{Kind: "leave", Object: name + "." + h.FullName, Was: describe(h),
					Message: fmt.Sprintf("the database no longer has %s: deploying leaves the field in the org; delete it in Setup when nothing uses it", or(h.ExternalDeveloperName, h.FullName))})
			}
		}
	}
	for _, n := range reportTypeNames(b.reportTypes) {
		want := b.reportTypes[n]
		have, ok := org.reportTypes[n]
		switch {
		case !ok:
			add(Change{Kind: "add", Object: n, Becomes: "Report Type " + describeReportType(want), Message: "deploying creates the report type"})
		case describeReportType(have) != describeReportType(want):
			add(Change{Kind: "change", Object: n, Was: describeReportType(have), Becomes: describeReportType(want), Message: "deploying changes what the report type joins"})
		}
	}
	names := make([]string, 0, len(org.objects))
	for n := range org.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if o := org.objects[n]; !ours[n] && o.ExternalDataSource == b.Name {
			add(Change{Kind: "leave", Object: n, Message: fmt.Sprintf("the source no longer serves %s: deploying leaves the object in the org; delete it in Setup when nothing uses it", o.ExternalName)})
		}
	}
	order := map[string]int{"add": 0, "change": 1, "leave": 2}
	sort.SliceStable(d.Changes, func(i, j int) bool {
		if order[d.Changes[i].Kind] != order[d.Changes[j].Kind] {
			return order[d.Changes[i].Kind] < order[d.Changes[j].Kind]
		}
		return d.Changes[i].Object < d.Changes[j].Object
	})
	sort.Slice(d.SyncOverwrites, func(i, j int) bool { return d.SyncOverwrites[i].Object < d.SyncOverwrites[j].Object })
	return d
}

// describeReportType names what a report type reports on: Customers__x
// with Orders__r.
func describeReportType(rt reportType) string {
	if rt.Join == nil {
		return rt.BaseObject
	}
	return rt.BaseObject + " with " + rt.Join.Relationship
}

func (b *Bundle) dataSource() dataSource {
	var ds dataSource
	for _, f := range b.Files {
		if strings.HasPrefix(f.Path, "dataSources/") {
			_ = xml.Unmarshal(f.Data, &ds) // the package's own file: it parses
		}
	}
	return ds
}

func writable(w bool) string {
	if w {
		return "writable"
	}
	return "read-only"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describe names a field's type as Setup shows it: Text(40),
// Number(18,2), External Lookup to Customers__x.
func describe(f customField) string {
	n := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	switch f.Type {
	case "Text", "LongTextArea":
		return fmt.Sprintf("%s(%d)", f.Type, n(f.Length))
	case "Number":
		return fmt.Sprintf("Number(%d,%d)", n(f.Precision), n(f.Scale))
	case "ExternalLookup":
		return "External Lookup to " + f.ReferenceTo
	case "IndirectLookup":
		return "Indirect Lookup to " + or(f.ReferenceTargetField, f.ReferenceTo)
	}
	return f.Type
}

// WriteText prints the diff for a terminal, a line per change.
func (d Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	sign := map[string]string{"add": "+", "change": "~", "leave": "-"}
	for _, c := range d.Changes {
		fmt.Fprintf(&b, "%s %s", sign[c.Kind], c.Object)
		switch {
		case c.Was != "" && c.Becomes != "":
			fmt.Fprintf(&b, ": %s -> %s", c.Was, c.Becomes)
		case c.Becomes != "":
			fmt.Fprintf(&b, ": %s", c.Becomes)
		case c.Was != "":
			fmt.Fprintf(&b, " (%s)", c.Was)
		}
		fmt.Fprintf(&b, "\n    %s\n", c.Message)
	}
	if d.Agree() {
		b.WriteString("the org agrees with the package: deploying changes nothing\n")
	} else {
		fmt.Fprintf(&b, "%d differences\n", len(d.Changes))
	}
	if len(d.SyncOverwrites) > 0 {
		b.WriteString("\na Validate and Sync of the data source would overwrite these lookups (deploy the package again instead):\n")
		for _, c := range d.SyncOverwrites {
			fmt.Fprintf(&b, "! %s (%s)\n    %s\n", c.Object, c.Was, c.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
