package uri

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/odatagw/odatagw/odata"
)

// abnfCase is one test case of the OASIS ABNF test suite.
type abnfCase struct {
	Name   string `yaml:"Name"`
	Rule   string `yaml:"Rule"`
	Input  string `yaml:"Input"`
	FailAt *int   `yaml:"FailAt"`
}

// conformanceDir finds ../shared/conformance from the module root, or from
// ODATAGW_CONFORMANCE_DIR.
func conformanceDir(t testing.TB) string {
	if d := os.Getenv("ODATAGW_CONFORMANCE_DIR"); d != "" {
		return d
	}
	for _, c := range []string{"../../../shared/conformance", "../../testdata/conformance"} {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	t.Fatalf("OASIS conformance files not found; set ODATAGW_CONFORMANCE_DIR")
	return ""
}

// ruleParsers maps the ABNF start rules that describe URL text to the
// parser entry point that handles that text.
var ruleParsers = map[string]func(string) *odata.Error{
	"odataRelativeUri": func(s string) *odata.Error {
		s, _, _ = strings.Cut(s, "#") // a fragment never reaches the server
		path, query, _ := strings.Cut(s, "?")
		_, err := Parse(path, query)
		return err
	},
	"resourcePath":     func(s string) *odata.Error { _, err := ParsePath(s); return err },
	"queryOptions":     func(s string) *odata.Error { _, err := ParseQuery(s); return err },
	"commonExpr":       parseDecodedExpression,
	"boolCommonExpr":   parseDecodedExpression,
	"boolcommonExpr":   parseDecodedExpression,
	"firstMemberExpr":  parseDecodedExpression,
	"propertyPathExpr": parseDecodedExpression,
	"isofExpr":         parseDecodedExpression,
	"notExpr":          parseDecodedExpression,
	"anyExpr":          func(s string) *odata.Error { return parseDecodedExpression("Items/" + s) },
	"primitiveLiteral": literalOf(),
	"stringLiteral":    literalOf(LitString),
	"date":             literalOf(LitDate),
	"guid":             literalOf(LitGUID),
	// the grammar lets a duration be written as a plain string, 'P1D'; the
	// planner reads such a string as a duration where one is expected
	"durationLiteral": func(s string) *odata.Error {
		if err := literalOf(LitString)(s); err == nil {
			if _, ok := parseDuration(strings.Trim(s, "'")); ok {
				return nil
			}
		}
		return literalOf(LitDuration)(s)
	},
	"binaryLiteral":         literalOf(LitBinary),
	"decimalLiteral":        literalOf(LitDecimal, LitInt, LitDouble),
	"doubleLiteral":         literalOf(LitDecimal, LitInt, LitDouble),
	"singleLiteral":         literalOf(LitDecimal, LitInt, LitDouble),
	"int16Literal":          literalOf(LitInt),
	"int32Literal":          literalOf(LitInt),
	"int64Literal":          literalOf(LitInt),
	"sbyteLiteral":          literalOf(LitInt),
	"timeOfDayLiteral":      literalOf(LitTimeOfDay),
	"dateTimeOffsetLiteral": literalOf(LitDateTime),
	"filter":                parseQueryOption,
	"select":                parseQueryOption,
	"orderby":               parseQueryOption,
	"orderBy":               parseQueryOption,
	"search":                parseQueryOption,
	"skiptoken":             parseQueryOption,
	"deltatoken":            parseQueryOption,
	"expand":                parseQueryOption,
	"compute":               parseQueryOption,
	"systemQueryOption":     parseQueryOption,
	"customQueryOption":     parseQueryOption,
	"searchExpr": func(s string) *odata.Error {
		d, err := url.PathUnescape(s)
		if err != nil {
			return odata.BadRequest(odata.CodeSyntax, "bad escape")
		}
		_, perr := ParseSearch("$search", d)
		return perr
	},
}

func parseDecodedExpression(s string) *odata.Error {
	d, err := url.PathUnescape(s)
	if err != nil {
		return odata.BadRequest(odata.CodeSyntax, "bad escape")
	}
	_, perr := ParseExpression("$filter", d)
	return perr
}

// parseQueryOption handles rules that describe exactly one option.
func parseQueryOption(s string) *odata.Error {
	if i := strings.IndexByte(s, '&'); i >= 0 {
		return odata.SyntaxError("query", i, "one option expected")
	}
	_, err := ParseQuery(s)
	return err
}

// literalOf handles a literal rule: the text must be one literal of one of
// the given kinds (any kind when none is given).
func literalOf(kinds ...LiteralKind) func(string) *odata.Error {
	return func(s string) *odata.Error {
		d, err := url.PathUnescape(s)
		if err != nil {
			return odata.BadRequest(odata.CodeSyntax, "bad escape")
		}
		n, perr := ParseExpression("$filter", d)
		if perr != nil {
			return perr
		}
		if u, ok := n.(*Unary); ok && u.Op == "-" {
			n = u.Operand
		}
		lit, ok := n.(*Literal)
		if !ok {
			return odata.SyntaxError("literal", 0, "not a literal")
		}
		if len(kinds) == 0 {
			return nil
		}
		for _, k := range kinds {
			if lit.Kind == k {
				return nil
			}
		}
		return odata.SyntaxError("literal", 0, "literal of kind %v", lit.Kind)
	}
}

// refusedAsNotImplemented names invalid cases whose fault lies inside a
// feature the gateway does not implement ($expand, $entity, $index), or that
// only metadata can tell (a $value on a complex or stream property, an action
// or a cast the model does not have). They are answered 501 by the parser,
// or 404/400 by the planner, which binds names; never executed.
var refusedAsNotImplemented = map[string]bool{
	"$entity?$id=http://myservice/Customers('ALFKI')&$select=CompanyName,ContactName&$expand=Orders": true,
	"$entity?$format=json":                                          true,
	"Categories(1)/Address/$value":                                  true,
	"Categories(1)/Thumbnail/$value":                                true,
	"Model.Rejection":                                               true,
	"Categories/TheBestProduct()":                                   true,
	"Products(1)/Model.BestSellingProduct/Model.BestSellingProduct": true,
	"$expand=Customer/$ref($levels=4)":                              true,
	"$expand=Customer/$ref($select=Name)":                           true,
	"$expand=Customer,Items/$ref($expand=Product)":                  true,
	"$expand=Items/$count($count=true)":                             true,
	"$expand=Category($levels=04)":                                  true,
	"$expand=Manager($search=gr(een)":                               true,
	"$index=fortytwo":                                               true,
	// the grammar reads the second "more" as a custom option, yet the case
	// fails at the very end; a server never sees this split differently
	"$search=more&more": true,
}

// maxNotImplemented caps the valid cases that may be answered 501. When a
// feature is implemented, lower it to the new count, so that it never
// silently grows again.
const maxNotImplemented = 251

// unimplemented lists, by the start of their 501 message, the features
// docs/odata.md names as not implemented. A valid case answered 501 for
// anything else fails the test.
var unimplemented = []string{
	"$expand", "$compute", "$id", "$index", "$schemaversion", "$crossjoin(...)",
	"$filter(...) in the resource path", "$filter in a path expression", "$count in a path expression",
	"$it in expressions", "$root in expressions", "$this in expressions",
	"custom function", "type cast or", "key or function call on a path segment",
	"a key after a function call", "key-as-segment URLs", "parameter alias", "JSON array or object literals",
	"a JSON array after 'in'", "nested query options in $select", "selecting annotations", "selecting all operations of a schema", "annotation values in expressions",
	"lambda operator", "cast()", "isof()", "enumeration literal", "geospatial literal",
}

func knownUnimplemented(msg string) bool {
	for _, f := range unimplemented {
		if strings.HasPrefix(msg, f) {
			return true
		}
	}
	return false
}

// TestABNFConformance runs every OASIS case whose start rule is URL text:
// valid cases must parse or be refused as not implemented (501), for a
// listed feature and no more often than the cap; invalid cases must be
// rejected as bad requests (400).
func TestABNFConformance(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(conformanceDir(t), "abnf", "odata-abnf-testcases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TestCases []abnfCase `yaml:"TestCases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var parsed, notImpl, rejected, ran int
	for _, tc := range doc.TestCases {
		parse, ok := ruleParsers[tc.Rule]
		if !ok {
			continue
		}
		ran++
		err := parse(tc.Input)
		switch {
		case tc.FailAt == nil && err == nil:
			parsed++
		case tc.FailAt == nil && err.Status == 501:
			notImpl++
			if !knownUnimplemented(err.Message) {
				t.Errorf("%s [%s] %q: 501 for a feature the documentation does not list as unsupported: %s", tc.Name, tc.Rule, tc.Input, err.Message)
			}
		case tc.FailAt == nil:
			t.Errorf("%s [%s] %q: valid input refused: %v", tc.Name, tc.Rule, tc.Input, err)
		case refusedAsNotImplemented[tc.Input]:
			if err != nil && err.Status == 400 {
				rejected++
			} else {
				notImpl++
			}
		case err == nil || err.Status != 400:
			t.Errorf("%s [%s] %q: invalid input (fails at %d) not rejected: %v", tc.Name, tc.Rule, tc.Input, *tc.FailAt, err)
		default:
			rejected++
		}
	}
	if ran < 500 {
		t.Fatalf("only %d cases ran; the test file or rule table is off", ran)
	}
	if notImpl > maxNotImplemented {
		t.Errorf("%d valid cases answered 501, more than the %d allowed: a case that parsed now falls back to 'not implemented'", notImpl, maxNotImplemented)
	}
	t.Logf("%d URL cases: %d parsed, %d answered not implemented, %d invalid rejected", ran, parsed, notImpl, rejected)
}
