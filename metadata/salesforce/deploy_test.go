package salesforce

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/sfschema"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// shop is a schema with a foreign key of every kind: single, two to one
// parent, composite, self-reference, to a table that is not served, and
// to a unique column that is not the parent's key.
func shop(t *testing.T) *metadata.Service { t.Helper(); return shopWith(t) }

// shopWith is the shop with summary sets over its tables.
func shopWith(t *testing.T, summaries ...sources.Summary) *metadata.Service {
	t.Helper()
	i32 := func(name string, nullable bool) sources.Column {
		return sources.Column{Name: name, Type: metadata.Int32, Nullable: nullable}
	}
	text := func(name string, n int, nullable bool) sources.Column {
		return sources.Column{Name: name, Type: metadata.String, MaxLength: n, Nullable: nullable}
	}
	tables := []sources.Table{
		{Name: "customers", Comment: "People and companies who order", PrimaryKey: []string{"id"}, UniqueKeys: [][]string{{"name"}},
			Columns: []sources.Column{i32("id", false), text("name", 100, false), text("customer_number", 20, true),
				{Name: "credit", Type: metadata.Decimal, Precision: 12, Scale: 2, ScaleSet: true, Nullable: true},
				{Name: "active", Type: metadata.Boolean}, text("notes", 4000, true),
				{Name: "rating", Type: metadata.Double, Nullable: true, Comment: "from 0 to 5"},
				{Name: "ref", Type: metadata.GUID}, {Name: "since", Type: metadata.DateTimeOffset, Nullable: true},
				{Name: "photo", Type: metadata.Binary, Nullable: true}, {Name: "opens", Type: metadata.TimeOfDay, Nullable: true}}},
		{Name: "orders", PrimaryKey: []string{"id"},
			Columns: []sources.Column{i32("id", false), i32("customer_id", false), i32("billing_customer_id", true),
				text("warehouse_code", 10, true), text("customer_number", 20, true), {Name: "placed", Type: metadata.Date}},
			ForeignKeys: []sources.ForeignKey{
				{Name: "orders_customer", Columns: []string{"customer_id"}, RefTable: "customers", RefColumns: []string{"id"}},
				{Name: "orders_billing", Columns: []string{"billing_customer_id"}, RefTable: "customers", RefColumns: []string{"id"}},
				{Name: "orders_warehouse", Columns: []string{"warehouse_code"}, RefTable: "warehouses", RefColumns: []string{"code"}},
			}},
		{Name: "order_lines", PrimaryKey: []string{"order_id", "line_no"},
			Columns: []sources.Column{i32("order_id", false), i32("line_no", false), text("product_sku", 20, false), i32("quantity", false)},
			ForeignKeys: []sources.ForeignKey{
				{Name: "lines_order", Columns: []string{"order_id"}, RefTable: "orders", RefColumns: []string{"id"}},
				{Name: "lines_product", Columns: []string{"product_sku"}, RefTable: "products", RefColumns: []string{"sku"}},
			}},
		{Name: "products", PrimaryKey: []string{"id"}, UniqueKeys: [][]string{{"sku"}},
			Columns: []sources.Column{i32("id", false), text("sku", 20, false), text("title", 80, false)}},
		{Name: "employees", PrimaryKey: []string{"id"}, UniqueKeys: [][]string{{"badge_code"}},
			Columns:     []sources.Column{i32("id", false), i32("manager_id", true), text("full_name", 80, false), text("badge_code", 12, false)},
			ForeignKeys: []sources.ForeignKey{{Name: "employees_manager", Columns: []string{"manager_id"}, RefTable: "employees", RefColumns: []string{"id"}}}},
		{Name: "shipments", PrimaryKey: []string{"id"},
			Columns:     []sources.Column{i32("id", false), i32("order_id", false), i32("line_no", false)},
			ForeignKeys: []sources.ForeignKey{{Name: "shipments_line", Columns: []string{"order_id", "line_no"}, RefTable: "order_lines", RefColumns: []string{"order_id", "line_no"}}}},
		{Name: "warehouses", PrimaryKey: []string{"code"}, Columns: []sources.Column{text("code", 10, false)}},
	}
	svc, _, err := sources.BuildModel(tables, sources.Options{Exclude: []string{"warehouses"}, Summaries: summaries}, "")
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func shopOptions() Options {
	return Options{Connection: Connection{Source: "shop", ServiceURL: "https://odata.example.com/odata/shop/", Writable: true, Auth: "basic"},
		Choices: Choices{Lookups: map[string]string{"orders.customer_number": "Account.ERP_Number__c"}}}
}

// files maps a bundle's paths to their contents, with the indentation
// between elements taken out so that tests can name element runs.
func files(b *Bundle) map[string]string {
	out := map[string]string{}
	for _, f := range b.Files {
		out[f.Path] = squash(string(f.Data))
	}
	return out
}

var between = regexp.MustCompile(`>\s+<`)

func squash(s string) string { return between.ReplaceAllString(s, "><") }

// TestPackageMatchesTheSchema: every file of every kind of package holds
// only the elements the Metadata API's schema has, in its order, with
// values from its enumerations.
func TestPackageMatchesTheSchema(t *testing.T) {
	schema := sfschema.Load(t)
	svc := shop(t)
	for _, c := range []struct {
		name string
		edit func(*Options)
	}{
		{"basic 4.01", func(o *Options) {}},
		{"token header 4.0", func(o *Options) { o.Auth, o.TokenHeader, o.ODataVersion = "token_header", "X-API-Token", OData40 }},
		{"bearer, read-only, tracked", func(o *Options) { o.Auth, o.Writable, o.Tracked, o.CSRF = "bearer", false, true, true }},
		{"anonymous", func(o *Options) { o.Auth = "anonymous" }},
		{"legacy basic 4.0", func(o *Options) { o.LegacyCredential, o.ODataVersion = true, OData40 }},
		{"legacy token header 4.0", func(o *Options) {
			o.LegacyCredential, o.ODataVersion, o.Auth, o.TokenHeader = true, OData40, "token_header", "X-API-Token"
		}},
	} {
		o := shopOptions()
		c.edit(&o)
		b, err := Package(svc, o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, f := range b.Files {
			for _, err := range schema.Validate(f.Data) {
				t.Errorf("%s: %s: %v", c.name, f.Path, err)
			}
		}
	}
}

// TestSchemaCatchesMistakes: the check itself fails on what a deploy
// refuses, so that its silence means something.
func TestSchemaCatchesMistakes(t *testing.T) {
	schema := sfschema.Load(t)
	for _, c := range []struct{ doc, want string }{
		{`<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><label>A</label><deploymentStatus>Deployed</deploymentStatus></CustomObject>`, "comes after"},
		{`<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><nameFields>x</nameFields></CustomObject>`, "has no element"},
		{`<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><deploymentStatus>Live</deploymentStatus></CustomObject>`, "is not a DeploymentStatus"},
		{`<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields><fullName>A__c</fullName><type>Lookup2</type></fields></CustomObject>`, "is not a FieldType"},
		{`<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><enableSearch>yes</enableSearch></CustomObject>`, "not a boolean"},
		{`<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata"><objectPermissions><object>A__x</object></objectPermissions><label>x</label></PermissionSet>`, "requires allowRead"},
		{`<ExternalDataSource xmlns="http://soap.sforce.com/2006/04/metadata"><label>x</label><principalType>Anonymous</principalType><protocol>NoAuthentication</protocol><type>OData5</type></ExternalDataSource>`, "is not a ExternalDataSourceType"},
	} {
		errs := schema.Validate([]byte(c.doc))
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), c.want)
		}
		if !found {
			t.Errorf("%s: want an error saying %q, got %v", c.doc, c.want, errs)
		}
	}
}

// TestLookups: each kind of foreign key becomes what it should, and the
// report says why the ones left plain are.
func TestLookups(t *testing.T) {
	svc := shop(t)
	b, err := Package(svc, shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Lookup{}
	for _, l := range b.Lookups {
		got[l.Set+"."+l.Property] = l
	}
	want := map[string][4]string{ // kind, reference to, relationship name, label
		"orders.customer_id":         {"ExternalLookup", "customers__x", "orders", "Orders"},
		"orders.billing_customer_id": {"ExternalLookup", "customers__x", "orders_billing_customer_id", "Orders (Billing Customer Id)"},
		"orders.customer_number":     {"IndirectLookup", "Account", "orders", "Orders"},
		"order_lines.order_id":       {"ExternalLookup", "orders__x", "order_lines", "Order Lines"},
		"employees.manager_id":       {"ExternalLookup", "employees__x", "employees", "Employees"},
	}
	for k, w := range want {
		l, ok := got[k]
		if !ok {
			t.Errorf("%s is not a lookup", k)
			continue
		}
		if l.Kind != w[0] || l.ReferenceTo != w[1] || l.RelationshipName != w[2] || l.RelationshipLabel != w[3] {
			t.Errorf("%s: %+v, want %v", k, l, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("lookups %v, want only %v", got, want)
	}
	if l := got["orders.customer_number"]; l.TargetField != "Account.ERP_Number__c" {
		t.Errorf("the Indirect Lookup's target field is %q", l.TargetField)
	}
	rep := Build(svc, metadata.Decisions{}, shopOptions().Choices)
	says := map[string]string{}
	for _, tb := range rep.Tables {
		for _, p := range tb.Problems {
			says[p.Object] = p.Message
		}
	}
	for obj, msg := range map[string]string{
		"orders.warehouse_code":      "warehouses is not served",
		"order_lines.product_sku":    "matches the parent's key (id), and sku is not it",
		"shipments.order_id,line_no": "composite foreign key (order_id, line_no) to order_lines",
	} {
		if !strings.Contains(says[obj], msg) {
			t.Errorf("the report on %s says %q, want %q", obj, says[obj], msg)
		}
	}
	for _, tb := range rep.Tables {
		for _, f := range tb.Fields {
			if tb.EntitySet == "orders" && f.Name == "customer_id" && f.Lookup != "External Lookup to customers__x" {
				t.Errorf("the report shows orders.customer_id as %q", f.Lookup)
			}
		}
	}
}

// TestFieldsAndNames: the field each type becomes, the labels, the name
// field, and the permission set's grants.
func TestFieldsAndNames(t *testing.T) {
	o := shopOptions()
	o.NameFields = map[string]string{"products": "title"}
	b, err := Package(shop(t), o)
	if err != nil {
		t.Fatal(err)
	}
	fs := files(b)
	customers := fs["objects/customers__x.object"]
	for _, w := range []string{
		"<description>People and companies who order</description>", "<label>Customer</label>", "<pluralLabel>Customers</pluralLabel>",
		"<externalName>customers</externalName>", "<externalDataSource>shop</externalDataSource>", "<deploymentStatus>Deployed</deploymentStatus>",
		"<fullName>name__c</fullName><externalDeveloperName>name</externalDeveloperName><externalId>false</externalId><isNameField>true</isNameField>",
		"<label>Customer Number</label><length>20</length>", "<precision>12</precision><required>false</required><scale>2</scale>",
		"<fullName>active__c</fullName><defaultValue>false</defaultValue>", "<length>4000</length>", "<type>LongTextArea</type>",
		"<description>from 0 to 5</description>", "<scale>6</scale>", "<length>36</length>", "<type>TextArea</type>",
	} {
		if !strings.Contains(customers, w) {
			t.Errorf("customers__x lacks %s:\n%s", w, customers)
		}
	}
	if strings.Contains(customers, "opens") {
		t.Error("a TimeOfDay column, which sync skips, became a field")
	}
	if lines := fs["objects/order_lines__x.object"]; !strings.Contains(lines, "<label>Order Line</label>") || !strings.Contains(lines, "<pluralLabel>Order Lines</pluralLabel>") {
		t.Errorf("order_lines' labels:\n%s", lines)
	}
	if !strings.Contains(fs["objects/products__x.object"], "<fullName>title__c</fullName><externalDeveloperName>title</externalDeveloperName><externalId>false</externalId><isNameField>true</isNameField>") {
		t.Error("the configured name field is not products' name field")
	}
	if !strings.Contains(fs["objects/employees__x.object"], "<fullName>badge_code__c</fullName><externalDeveloperName>badge_code</externalDeveloperName><externalId>false</externalId><isNameField>true</isNameField>") {
		t.Error("employees' unique badge_code is not its default name field")
	}
	ps := fs["permissionsets/odatagw_shop.permissionset"]
	for _, w := range []string{"<externalCredentialPrincipal>shop-Gateway</externalCredentialPrincipal>",
		"<allowCreate>true</allowCreate>", "<object>customers__x</object>", "<field>orders__x.customer_id__c</field>"} {
		if !strings.Contains(ps, w) {
			t.Errorf("the permission set lacks %s", w)
		}
	}
	manifest := fs["package.xml"]
	for _, w := range []string{"<members>customers__x</members>", "<members>shipments__x</members>", "<name>CustomObject</name>",
		"<name>ExternalCredential</name>", "<members>odatagw_shop</members>", "<version>" + APIVersion + "</version>"} {
		if !strings.Contains(manifest, w) {
			t.Errorf("package.xml lacks %s", w)
		}
	}
	if strings.Contains(manifest, "warehouses") {
		t.Error("package.xml names the table that is not served")
	}
}

// TestCredentials: the credential follows the source's authentication,
// the legacy form only when asked for, and no secret in either.
func TestCredentials(t *testing.T) {
	svc := shop(t)
	for _, c := range []struct {
		name string
		edit func(*Options)
		want []string
		not  []string
	}{
		{"basic", func(o *Options) {}, []string{"<authenticationProtocol>Basic</authenticationProtocol>", "<namedCredentialType>SecuredEndpoint</namedCredentialType>",
			"<parameterValue>https://odata.example.com/odata/shop</parameterValue>", "<type>OData401</type>", "<endpoint>callout:shop</endpoint>"}, []string{"<password>", "<username>"}},
		{"token header", func(o *Options) { o.Auth, o.TokenHeader = "token_header", "X-API-Token" },
			[]string{"<authenticationProtocol>Custom</authenticationProtocol>", "<parameterName>X-API-Token</parameterName>",
				"<parameterValue>{!$Credential.shop.Token}</parameterValue>", "<allowMergeFieldsInHeader>true</allowMergeFieldsInHeader>"}, nil},
		{"bearer", func(o *Options) { o.Auth = "bearer" }, []string{"<authenticationProtocol>Oauth</authenticationProtocol>", "ClientCredentialsClientSecret"}, nil},
		{"4.0", func(o *Options) { o.ODataVersion = OData40 }, []string{"<type>OData4</type>"}, nil},
		{"legacy", func(o *Options) { o.LegacyCredential, o.ODataVersion = true, OData40 },
			[]string{"<protocol>Password</protocol>", "<endpoint>https://odata.example.com/odata/shop</endpoint>", "<username>salesforce</username>"},
			[]string{"ExternalCredential", "externalCredentialPrincipalAccesses", "<password>"}},
	} {
		o := shopOptions()
		c.edit(&o)
		b, err := Package(svc, o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var all strings.Builder
		for _, f := range b.Files {
			all.WriteString(f.Path + "\n" + string(f.Data))
		}
		for _, w := range c.want {
			if !strings.Contains(all.String(), w) {
				t.Errorf("%s: the package lacks %s", c.name, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(all.String(), n) {
				t.Errorf("%s: the package holds %s", c.name, n)
			}
		}
	}
}

// TestBadChoices: what cannot be carried out is refused, saying what.
func TestBadChoices(t *testing.T) {
	svc := shop(t)
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no such column", func(o *Options) { o.Lookups = map[string]string{"orders.nope": "Account.X__c"} }, "orders has no served column nope"},
		{"no such table", func(o *Options) { o.Lookups = map[string]string{"invoices.id": "Account.X__c"} }, "no served table is called invoices"},
		{"not a custom field", func(o *Options) { o.Lookups = map[string]string{"orders.customer_number": "Account.Name"} }, "is not a custom field's API name"},
		{"no field", func(o *Options) { o.Lookups = map[string]string{"orders.customer_number": "Account"} }, "write Object.Field__c"},
		{"a date cannot", func(o *Options) { o.Lookups = map[string]string{"orders.placed": "Account.X__c"} }, "cannot hold an External ID value"},
		{"name field not text", func(o *Options) { o.NameFields = map[string]string{"orders": "placed"} }, "is not a text field"},
		{"name field of no set", func(o *Options) { o.NameFields = map[string]string{"invoices": "x"} }, "no entity set named invoices"},
		{"legacy 4.01", func(o *Options) { o.LegacyCredential = true }, "works with the OData 4.0 type only"},
		{"OData 5", func(o *Options) { o.ODataVersion = "5" }, "is 4.01 or 4.0"},
	} {
		o := shopOptions()
		c.edit(&o)
		_, err := Package(svc, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

// TestLabels: readable labels from database names.
func TestLabels(t *testing.T) {
	for _, c := range []struct{ name, label, plural string }{
		{"order_lines", "Order Line", "Order Lines"},
		{"OrderLines", "Order Line", "Order Lines"},
		{"Customers", "Customer", "Customers"},
		{"categories", "Category", "Categories"},
		{"address", "Address", "Addresses"},
		{"HTTPStatus", "HTTP Status", "HTTP Statuses"},
		{"box", "Box", "Boxes"},
		{"staff2024", "Staff2024", "Staff2024s"},
	} {
		if got := objectLabel(c.name); got != c.label {
			t.Errorf("%s: label %q, want %q", c.name, got, c.label)
		}
		if got := pluralLabel(c.name); got != c.plural {
			t.Errorf("%s: plural %q, want %q", c.name, got, c.plural)
		}
	}
	if got := fieldLabel("CustomerId"); got != "Customer Id" {
		t.Errorf("CustomerId: %q", got)
	}
	long := strings.Repeat("very_long_name_", 5)
	if got := clip(fieldLabel(long)); len(got) > 40 {
		t.Errorf("a label of %d characters", len(got))
	}
}

// TestRelationshipNamesAreUnique: many children referring to one parent
// twice each still get distinct related lists of at most 40 characters.
func TestRelationshipNamesAreUnique(t *testing.T) {
	var tables []sources.Table
	tables = append(tables, sources.Table{Name: "parent", PrimaryKey: []string{"id"}, Columns: []sources.Column{{Name: "id", Type: metadata.Int32}}})
	child := sources.Table{Name: "a_child_table_with_a_name_of_thirty_nine", PrimaryKey: []string{"id"}, Columns: []sources.Column{{Name: "id", Type: metadata.Int32}}}
	for _, col := range []string{"first_parent_reference_column", "second_parent_reference_column", "third"} {
		child.Columns = append(child.Columns, sources.Column{Name: col, Type: metadata.Int32, Nullable: true})
		child.ForeignKeys = append(child.ForeignKeys, sources.ForeignKey{Columns: []string{col}, RefTable: "parent", RefColumns: []string{"id"}})
	}
	tables = append(tables, child)
	svc, _, err := sources.BuildModel(tables, sources.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Package(svc, Options{Connection: Connection{Source: "x", ServiceURL: "https://x/odata/x/"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range b.Lookups {
		if !metadata.ValidName(l.RelationshipName) || seen[strings.ToLower(l.RelationshipName)] {
			t.Errorf("relationship name %q: invalid or taken (%v)", l.RelationshipName, seen)
		}
		seen[strings.ToLower(l.RelationshipName)] = true
		if len(l.RelationshipLabel) > 40 {
			t.Errorf("relationship label %q is over 40 characters", l.RelationshipLabel)
		}
	}
	if len(seen) != 3 {
		t.Errorf("%d lookups, want 3", len(seen))
	}
}

// writeOrg writes a bundle as a retrieved directory would hold it, and
// lets the test change a file first.
func writeOrg(t *testing.T, b *Bundle, edit func(path, data string) string) string {
	dir := filepath.Join(t.TempDir(), "unpackaged")
	for _, f := range b.Files {
		data := edit(f.Path, string(f.Data))
		if data == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Dir(dir)
}

// TestDiff: against an org where a column was added since, one dropped,
// a length changed and a lookup clobbered by a sync.
func TestDiff(t *testing.T) {
	b, err := Package(shop(t), shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	same := writeOrg(t, b, func(_, d string) string { return d })
	org, err := ReadDir(same)
	if err != nil {
		t.Fatal(err)
	}
	if d := b.Compare(org); !d.Agree() {
		t.Errorf("the package differs from itself: %+v", d.Changes)
	} else if len(d.SyncOverwrites) == 0 {
		t.Error("the package's own lookups carry their columns' API names, and no sync overwrite is announced")
	}
	dir := writeOrg(t, b, func(path, d string) string {
		switch path {
		case "objects/customers__x.object":
			// the org lacks notes (a column added since), has a dropped column, and another length
			d = cutField(d, "notes__c")
			d = strings.Replace(d, "<fields>", "<fields>\n        <fullName>fax__c</fullName>\n        <externalDeveloperName>fax</externalDeveloperName>\n        <label>Fax</label>\n        <length>30</length>\n        <type>Text</type>\n    </fields>\n    <fields>", 1)
			d = strings.Replace(d, "<length>20</length>", "<length>12</length>", 1)
		case "objects/orders__x.object":
			// a sync turned the lookup back into a number
			i := strings.Index(d, "<fullName>customer_id__c</fullName>")
			j := i + strings.Index(d[i:], "</fields>")
			d = d[:i] + "<fullName>customer_id__c</fullName>\n        <externalDeveloperName>customer_id</externalDeveloperName>\n        <precision>18</precision>\n        <scale>0</scale>\n        <type>Number</type>\n    " + d[j:]
		case "objects/employees__x.object":
			return ""
		}
		return d
	})
	org, err = ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := b.Compare(org)
	want := map[string]string{
		"add customers__x.notes__c":              "LongTextArea(4000)",
		"leave customers__x.fax__c":              "Text(30)",
		"change customers__x.customer_number__c": "Text(12) -> Text(20)",
		"change orders__x.customer_id__c":        "Number(18,0) -> External Lookup to customers__x",
		"add employees__x":                       "",
	}
	got := map[string]string{}
	for _, c := range d.Changes {
		got[c.Kind+" "+c.Object] = strings.TrimPrefix(c.Was+" -> "+c.Becomes, " -> ")
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || w != "" && !strings.Contains(g, w) {
			t.Errorf("%s: %q, want %q (all: %v)", k, g, w, got)
		}
	}
	if len(d.Changes) != len(want) {
		t.Errorf("%d changes, want %d: %v", len(d.Changes), len(want), got)
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"~ orders__x.customer_id__c: Number(18,0) -> External Lookup to customers__x", "5 differences",
		"! orders__x.customer_id__c (External Lookup to customers__x)"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("the diff's text lacks %q:\n%s", w, text.String())
		}
	}
	// the same as a zip, as the admin page uploads it
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, _ := z.Create(filepath.ToSlash(rel))
		data, _ := os.ReadFile(p)
		w.Write(data)
		return nil
	})
	z.Close()
	zorg, err := ReadZip(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if zd := b.Compare(zorg); len(zd.Changes) != len(d.Changes) {
		t.Errorf("from a zip %d changes, from the directory %d", len(zd.Changes), len(d.Changes))
	}
}

func cutField(d, name string) string {
	i := strings.Index(d, "<fullName>"+name+"</fullName>")
	start := strings.LastIndex(d[:i], "<fields>")
	end := i + strings.Index(d[i:], "</fields>") + len("</fields>")
	return d[:start] + strings.TrimLeft(d[end:], " \n")
}

// TestDiffRefusesOtherDirectories: a directory that was not retrieved is
// said to be so, not compared as an empty org.
func TestDiffRefusesOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("hello"), 0o644)
	if _, err := ReadDir(dir); err != ErrNotRetrieved {
		t.Errorf("an unrelated directory: %v", err)
	}
	if _, err := ReadDir(filepath.Join(dir, "README.md")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	if _, err := ReadZip([]byte("not a zip")); err == nil || !strings.Contains(err.Error(), "not a zip") {
		t.Errorf("not a zip: %v", err)
	}
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "objects"), 0o755)
	os.WriteFile(filepath.Join(bad, "objects", "a__x.object"), []byte("<CustomObject><fields>"), 0o644)
	if _, err := ReadDir(bad); err == nil || !strings.Contains(err.Error(), "a__x.object") {
		t.Errorf("a broken object file: %v", err)
	}
}

// TestZip: the zip holds every file under the package's folder, each
// dated when it was written (not the zero time, which archivers show as
// 1979 or refuse).
func TestZip(t *testing.T) {
	b, err := Package(shop(t), shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-2 * time.Second) // zip keeps times to 2 s
	data, err := b.Zip()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(b.Files) {
		t.Fatalf("%d files in the zip, %d in the package", len(zr.File), len(b.Files))
	}
	for i, f := range zr.File {
		if f.Name != "odatagw_shop/"+b.Files[i].Path {
			t.Errorf("zip entry %s, want odatagw_shop/%s", f.Name, b.Files[i].Path)
		}
		if m := f.Modified; m.Before(before) || m.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s is dated %v", f.Name, m)
		}
		rc, _ := f.Open()
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, b.Files[i].Data) {
			t.Errorf("%s differs in the zip", f.Name)
		}
	}
}

// TestSummaryPackage: a summary set becomes a read-only external object
// named by its label, with an External Lookup from a dimension over a
// foreign key, an Indirect Lookup where its table's column has one, a
// report type of its own and one with its parent; all of it valid
// against the schema, and covered by the diff.
func TestSummaryPackage(t *testing.T) {
	schema := sfschema.Load(t)
	svc := shopWith(t,
		sources.Summary{Name: "customer_months", From: "orders",
			Dimensions: []sources.Dimension{{Column: "customer_id"}, {Column: "placed", Bucket: "month"}},
			Measures:   []sources.Measure{{Name: "orders", Of: "count"}}},
		sources.Summary{Name: "number_orders", From: "orders",
			Dimensions: []sources.Dimension{{Column: "customer_number"}}, Measures: []sources.Measure{{Name: "orders", Of: "count"}}})
	b, err := Package(svc, shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Files {
		for _, err := range schema.Validate(f.Data) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
	fs := files(b)
	obj := fs["objects/customer_months__x.object"]
	for _, want := range []string{
		"<fullName>label__c</fullName><description>The group&#39;s dimensions as text, which names it</description><externalDeveloperName>label</externalDeveloperName><externalId>false</externalId><isNameField>true</isNameField>",
		"<fullName>customer_id__c</fullName>",
		"<referenceTo>customers__x</referenceTo><relationshipLabel>Customer Months</relationshipLabel><relationshipName>customer_months</relationshipName>",
		"<type>ExternalLookup</type>",
	} {
		if !strings.Contains(obj, want) {
			t.Errorf("customer_months__x lacks %s:\n%s", want, obj)
		}
	}
	if n := fs["objects/number_orders__x.object"]; !strings.Contains(n, "<referenceTargetField>Account.ERP_Number__c</referenceTargetField>") {
		t.Errorf("the summary over orders.customer_number has no Indirect Lookup:\n%s", n)
	}
	ps := fs["permissionsets/odatagw_shop.permissionset"]
	if !strings.Contains(ps, "<objectPermissions><allowCreate>false</allowCreate><allowDelete>false</allowDelete><allowEdit>false</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>customer_months__x</object>") {
		t.Errorf("a summary is granted more than reading:\n%s", ps)
	}
	own := fs["reportTypes/customer_months_summary.reportType"]
	for _, want := range []string{"<baseObject>customer_months__x</baseObject><category>other</category><deployed>true</deployed>",
		"<columns><checkedByDefault>true</checkedByDefault><field>orders__c</field><table>customer_months__x</table></columns>"} {
		if !strings.Contains(own, want) {
			t.Errorf("the summary's report type lacks %s:\n%s", want, own)
		}
	}
	joined := fs["reportTypes/customers_with_customer_months.reportType"]
	for _, want := range []string{"<baseObject>customers__x</baseObject>", "<join><outerJoin>true</outerJoin><relationship>customer_months__r</relationship></join>",
		"<label>Customers with Customer Months</label>", "<table>customers__x.customer_months__r</table>", "<field>name__c</field><table>customers__x</table>"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the parent's report type lacks %s:\n%s", want, joined)
		}
	}
	if account := fs["reportTypes/Account_with_number_orders.reportType"]; !strings.Contains(account, "<baseObject>Account</baseObject>") ||
		!strings.Contains(account, "<field>Name</field><table>Account</table>") {
		t.Errorf("the Indirect Lookup's report type:\n%s", account)
	}
	if !strings.Contains(fs["package.xml"], "<members>customer_months_summary</members>") || !strings.Contains(fs["package.xml"], "<name>ReportType</name>") {
		t.Errorf("package.xml lacks the report types:\n%s", fs["package.xml"])
	}
	// the diff: an org without the summary's report type, and with the
	// parent's joined to something else
	dir := writeOrg(t, b, func(path, d string) string {
		switch path {
		case "reportTypes/customer_months_summary.reportType":
			return ""
		case "reportTypes/customers_with_customer_months.reportType":
			return strings.Replace(d, "<relationship>customer_months__r</relationship>", "<relationship>orders__r</relationship>", 1)
		}
		return d
	})
	org, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range b.Compare(org).Changes {
		got[c.Kind+" "+c.Object] = c.Was + " -> " + c.Becomes
	}
	if len(got) != 2 || got["add customer_months_summary"] != " -> Report Type customer_months__x" ||
		got["change customers_with_customer_months"] != "customers__x with orders__r -> customers__x with customer_months__r" {
		t.Errorf("diff: %v", got)
	}
}
