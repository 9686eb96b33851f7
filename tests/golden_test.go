package tests

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/odatagw/odatagw/internal/testdb"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/golden/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(testdb.Root(), "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tests -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(want, got) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := 0; i < len(wl) && i < len(gl); i++ {
			if wl[i] != gl[i] {
				t.Fatalf("%s differs at line %d:\nwant: %s\ngot:  %s", name, i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("%s differs in length: want %d lines, got %d", name, len(wl), len(gl))
	}
}

// hostPort hides the test server's random address in golden files.
var hostPort = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

func normalize(b []byte) []byte { return hostPort.ReplaceAll(b, []byte("http://gateway")) }

// xsdDir locates the OASIS schemas.
func xsdDir(t *testing.T) string {
	for _, d := range []string{filepath.Join(testdb.Root(), "..", "shared", "conformance", "csdl"), filepath.Join(testdb.Root(), "testdata", "conformance", "csdl")} {
		if _, err := os.Stat(filepath.Join(d, "edmx.xsd")); err == nil {
			return d
		}
	}
	t.Fatal("edmx.xsd not found")
	return ""
}

// validateXSD runs xmllint against the OASIS schema; CI must have it.
func validateXSD(t *testing.T, doc []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if testdb.InCI() {
			t.Fatal("xmllint is missing; .ci/run installs libxml2-utils")
		}
		t.Skip("xmllint not installed (Debian: libxml2-utils); schema validation skipped")
	}
	f := filepath.Join(t.TempDir(), "metadata.xml")
	os.WriteFile(f, doc, 0o644)
	out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsdDir(t), "edmx.xsd"), f).CombinedOutput()
	if err != nil {
		t.Fatalf("$metadata does not validate against edmx.xsd: %v\n%s", err, out)
	}
}

// validateCSDLJSON checks a CSDL JSON document against the OASIS JSON Schema.
func validateCSDLJSON(t *testing.T, doc []byte) {
	t.Helper()
	if err := csdlJSONError(t, doc); err != nil {
		t.Fatalf("CSDL JSON does not validate against csdl.schema.json: %v", err)
	}
}

func csdlJSONError(t *testing.T, doc []byte) error {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join(xsdDir(t), "csdl.schema.json"))
	if err != nil {
		t.Fatalf("compiling csdl.schema.json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestCSDLSchemaCatchesFaults: the JSON Schema check is able to fail.
func TestCSDLSchemaCatchesFaults(t *testing.T) {
	for _, bad := range []string{
		`{"$Version": 4.01}`,
		`{"$Version": "4.01", "odatagw": {"T": {"$Kind": "EntityType", "$Key": "Id"}}}`,
	} {
		if csdlJSONError(t, []byte(bad)) == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// metadataDoc is the subset of CSDL the semantic checks read.
type metadataDoc struct {
	Schemas []struct {
		Namespace   string `xml:"Namespace,attr"`
		EntityTypes []struct {
			Name string `xml:"Name,attr"`
			Key  struct {
				Refs []struct {
					Name string `xml:"Name,attr"`
				} `xml:"PropertyRef"`
			} `xml:"Key"`
			Props []struct {
				Name string `xml:"Name,attr"`
				Type string `xml:"Type,attr"`
			} `xml:"Property"`
		} `xml:"EntityType"`
		Sets []struct {
			Name       string `xml:"Name,attr"`
			EntityType string `xml:"EntityType,attr"`
		} `xml:"EntityContainer>EntitySet"`
	} `xml:"DataServices>Schema"`
}

var apiName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$`)

func TestMetadata(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			res := tg.get(t, "$metadata", "Accept", "application/xml", "OData-MaxVersion", "4.01")
			if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/xml") {
				t.Fatalf("status %d, %s", res.Status, res.Header.Get("Content-Type"))
			}
			checkGolden(t, "metadata-"+tg.name+".xml", res.Body)
			validateXSD(t, res.Body)
			checkMetadataSemantics(t, res.Body)
			if etag := res.Header.Get("ETag"); etag == "" {
				t.Error("$metadata has no ETag")
			} else if again := tg.get(t, "$metadata", "If-None-Match", etag, "OData-MaxVersion", "4.01"); again.Status != 304 {
				t.Errorf("conditional GET of $metadata: %d, want 304", again.Status)
			}
			js := tg.get(t, "$metadata?$format=json")
			if js.Status != 200 || !json.Valid(js.Body) {
				t.Fatalf("CSDL JSON: %d %.200s", js.Status, js.Body)
			}
			checkGolden(t, "metadata-"+tg.name+".json", js.Body)
			validateCSDLJSON(t, js.Body)
			if js.Header.Get("OData-Version") != "4.01" {
				t.Errorf("CSDL JSON under OData-Version %q", js.Header.Get("OData-Version"))
			}
			if byAccept := tg.get(t, "$metadata", "Accept", "application/json", "OData-MaxVersion", "4.01"); !bytes.Equal(byAccept.Body, js.Body) {
				t.Error("Accept: application/json from a 4.01 client must give CSDL JSON")
			}
		})
	}
}

// checkMetadataSemantics checks what the XSD cannot: every type has a key
// naming its own properties, every set names a declared type, and every
// name is a valid Salesforce API name.
func checkMetadataSemantics(t *testing.T, doc []byte) {
	t.Helper()
	var md metadataDoc
	if err := xmlUnmarshal(doc, &md); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, s := range md.Schemas {
		for _, et := range s.EntityTypes {
			types[s.Namespace+"."+et.Name] = true
			props := map[string]bool{}
			for _, p := range et.Props {
				props[p.Name] = true
				if !apiName.MatchString(p.Name) || len(p.Name) > 40 {
					t.Errorf("%s.%s is not a valid Salesforce API name", et.Name, p.Name)
				}
			}
			if len(et.Key.Refs) == 0 {
				t.Errorf("entity type %s has no key", et.Name)
			}
			for _, k := range et.Key.Refs {
				if !props[k.Name] {
					t.Errorf("key %s of %s is not a property", k.Name, et.Name)
				}
			}
		}
		for _, set := range s.Sets {
			if !types[set.EntityType] {
				t.Errorf("set %s names undeclared type %s", set.Name, set.EntityType)
			}
			if !apiName.MatchString(set.Name) || len(set.Name) > 40 {
				t.Errorf("set %s is not a valid Salesforce API name", set.Name)
			}
		}
	}
	if len(types) == 0 {
		t.Error("no entity types")
	}
}

// TestValuesOfEveryType pins the JSON form of every PostgreSQL type the
// fixture holds, at each metadata level.
func TestValuesOfEveryType(t *testing.T) {
	tg := needPostgres(t)
	var all bytes.Buffer
	for _, v := range []struct{ name, url string }{
		{"minimal", "all_types?$orderby=id"},
		{"none", "all_types?$orderby=id&$format=application/json;odata.metadata=none"},
		{"full", "all_types(1)?$format=application/json;odata.metadata=full"},
		{"ieee754", "all_types(1)?$select=id,c_bigint,c_numeric_any&$format=application/json;IEEE754Compatible=true"},
		{"sanitised names", "order_lines_2024_b7c8e1a8"},
		{"property", "all_types(1)/c_text"},
		{"raw value", "all_types(1)/c_numeric/$value"},
		{"entity with string key", "legacy_codes(code='A1',region='EU')"},
	} {
		res := tg.get(t, v.url)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", v.url, res.Status, res.Body)
		}
		if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && !json.Valid(res.Body) {
			t.Fatalf("%s: invalid JSON", v.url)
		}
		all.WriteString("### " + v.name + ": " + v.url + "\n" + res.Header.Get("Content-Type") + "\n")
		all.Write(normalize(res.Body))
		all.WriteString("\n\n")
	}
	checkGolden(t, "values-postgres.txt", all.Bytes())
}
