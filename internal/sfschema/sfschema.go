// Package sfschema holds Metadata API files against Salesforce's own
// schema, for tests: the element lists and enumerations of every type as
// the npm package @salesforce/types (generated from metadata.wsdl) gives
// them in lib/metadata.d.ts. It checks what a deploy would refuse before
// any parsing of values: unknown elements, elements out of the
// sequence's order, a missing required element, a value outside its
// enumeration, a boolean or number that is not one.
package sfschema

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Version is the @salesforce/types release the tests read; its
// metadata.d.ts follows the Metadata API of its day, later than the
// package's declared API version, so everything it accepts is current.
const Version = "1.9.0"

// Field is one element of a type, in the schema's order.
type Field struct {
	Name     string
	Type     string // string, boolean, number, or a type's name
	Array    bool
	Required bool
}

// Schema is the parsed metadata.d.ts.
type Schema struct {
	Types map[string][]Field
	Enums map[string][]string
}

var (
	once    sync.Once
	loaded  *Schema
	loadErr error
	skip    string
)

// Load fetches @salesforce/types with npm into a temporary directory
// (npm's cache too, so nothing outside it changes) and parses it, once
// per test binary. Without npm the test is skipped, and fails in CI.
func Load(t testing.TB) *Schema {
	t.Helper()
	once.Do(func() {
		npm, err := exec.LookPath("npm")
		if err != nil {
			skip = "npm is missing: the package's files are not checked against the Metadata API's schema (install npm to check them)"
			return
		}
		dir, err := os.MkdirTemp("", "odatagw-sfschema-")
		if err != nil {
			loadErr = err
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command(npm, "pack", "@salesforce/types@"+Version, "--pack-destination", dir, "--silent")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, "cache"), "npm_config_update_notifier=false",
			"npm_config_fund=false", "npm_config_audit=false", "npm_config_userconfig="+filepath.Join(dir, "npmrc"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			loadErr = fmt.Errorf("npm pack @salesforce/types@%s: %v: %s", Version, err, stderr.String())
			return
		}
		tgz, err := os.ReadFile(filepath.Join(dir, "salesforce-types-"+Version+".tgz"))
		if err != nil {
			loadErr = err
			return
		}
		dts, err := extract(tgz, "package/lib/metadata.d.ts")
		if err != nil {
			loadErr = err
			return
		}
		loaded, loadErr = Parse(dts)
	})
	if skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(skip + "; CI must check them")
		}
		t.Skip(skip)
	}
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func extract(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s not found in the package: %w", name, err)
		}
		if h.Name == name {
			return io.ReadAll(io.LimitReader(tr, 64<<20))
		}
	}
}

var (
	typeStart = regexp.MustCompile(`^export type (\w+) = (?:(\w+) & )?\{$`)
	enumLine  = regexp.MustCompile(`^export type (\w+) = ('.*');$`)
	fieldLine = regexp.MustCompile(`^\s+(\w+)(\?)?: ([\w]+)(\[\])?;$`)
	quoted    = regexp.MustCompile(`'([^']*)'`)
)

// Parse reads metadata.d.ts: each `export type X = [Base &] { ... };`
// as a type's elements in order (a base's first), each union of string
// literals as an enumeration.
func Parse(dts []byte) (*Schema, error) {
	s := &Schema{Types: map[string][]Field{}, Enums: map[string][]string{}}
	bases := map[string]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(dts))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if cur != "" {
			if line == "};" {
				cur = ""
				continue
			}
			if m := fieldLine.FindStringSubmatch(line); m != nil {
				s.Types[cur] = append(s.Types[cur], Field{Name: m[1], Type: m[3], Array: m[4] != "", Required: m[2] == "" && m[4] == ""})
			}
			continue
		}
		if m := typeStart.FindStringSubmatch(line); m != nil {
			cur = m[1]
			s.Types[cur] = nil
			if m[2] != "" {
				bases[cur] = m[2]
			}
			continue
		}
		if m := enumLine.FindStringSubmatch(line); m != nil {
			for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
				s.Enums[m[1]] = append(s.Enums[m[1]], q[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// a type's base's elements come first, the base's base's before them
	own := map[string][]Field{}
	for t, fs := range s.Types {
		own[t] = fs
	}
	var full func(t string, depth int) []Field
	full = func(t string, depth int) []Field {
		base, ok := bases[t]
		if !ok || depth > 10 {
			return own[t]
		}
		return append(append([]Field(nil), full(base, depth+1)...), own[t]...)
	}
	for t := range bases {
		s.Types[t] = full(t, 0)
	}
	if len(s.Types["CustomObject"]) == 0 || len(s.Enums["FieldType"]) == 0 {
		return nil, errors.New("metadata.d.ts: CustomObject or FieldType not found: the file's layout changed")
	}
	return s, nil
}

// Exempt lists values the schema's enumeration lacks and Salesforce
// takes: metadata.wsdl's ExternalDataSourceType names no OData adapter
// type, although every org's OData data source carries one.
var Exempt = map[string][]string{"ExternalDataSourceType": {"OData4", "OData401"}}

// node is an XML element with its children.
type node struct {
	name     string
	text     string
	children []*node
}

func parse(doc []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local}
			if len(stack) == 0 {
				if tok.Name.Space != "http://soap.sforce.com/2006/04/metadata" {
					return nil, fmt.Errorf("%s is not in the Metadata API's namespace", n.name)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// Validate checks one file: its root element is a type of the schema,
// and every element below follows it.
func (s *Schema) Validate(doc []byte) []error {
	root, err := parse(doc)
	if err != nil {
		return []error{err}
	}
	if _, ok := s.Types[root.name]; !ok {
		return []error{fmt.Errorf("%s is not a Metadata API type", root.name)}
	}
	var errs []error
	s.check(root, root.name, root.name, &errs)
	return errs
}

func (s *Schema) check(n *node, typ, where string, errs *[]error) {
	fields := s.Types[typ]
	index := map[string]int{}
	for i, f := range fields {
		index[f.Name] = i
	}
	last, lastName := -1, ""
	seen := map[string]int{}
	for _, c := range n.children {
		i, ok := index[c.name]
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: %s has no element %s", where, typ, c.name))
			continue
		}
		f := fields[i]
		if i < last {
			*errs = append(*errs, fmt.Errorf("%s: %s comes after %s, but %s's sequence puts it before", where, c.name, lastName, typ))
		}
		seen[c.name]++
		if seen[c.name] > 1 && !f.Array {
			*errs = append(*errs, fmt.Errorf("%s: %s appears %d times, and %s allows one", where, c.name, seen[c.name], typ))
		}
		last, lastName = i, c.name
		s.value(c, f, where+"/"+c.name, errs)
	}
	for _, f := range fields {
		if f.Required && seen[f.Name] == 0 {
			*errs = append(*errs, fmt.Errorf("%s: %s requires %s", where, typ, f.Name))
		}
	}
}

func (s *Schema) value(n *node, f Field, where string, errs *[]error) {
	text := strings.TrimSpace(n.text)
	simple := func() {
		if len(n.children) > 0 {
			*errs = append(*errs, fmt.Errorf("%s: a %s holds text, not elements", where, f.Type))
		}
	}
	switch f.Type {
	case "string":
		simple()
	case "boolean":
		simple()
		if text != "true" && text != "false" {
			*errs = append(*errs, fmt.Errorf("%s: %q is not a boolean", where, text))
		}
	case "number":
		simple()
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %q is not a number", where, text))
		}
	default:
		if values, ok := s.Enums[f.Type]; ok {
			simple()
			for _, v := range append(values, Exempt[f.Type]...) {
				if v == text {
					return
				}
			}
			*errs = append(*errs, fmt.Errorf("%s: %q is not a %s (one of %s)", where, text, f.Type, strings.Join(values, ", ")))
			return
		}
		if _, ok := s.Types[f.Type]; ok {
			s.check(n, f.Type, where, errs)
			return
		}
		*errs = append(*errs, fmt.Errorf("%s: the schema does not define %s", where, f.Type))
	}
}
