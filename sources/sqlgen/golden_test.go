package sqlgen_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testmodel"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources/mysql"
	"github.com/odatagw/odatagw/sources/postgres"
	"github.com/odatagw/odatagw/sources/sqlgen"
	"github.com/odatagw/odatagw/sources/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// splitURL separates path and query and encodes the query the way a
// client would, so that the parser sees what it sees in production.
func splitURL(s string) (string, string) {
	path, query, _ := strings.Cut(s, "?")
	var parts []string
	for _, p := range strings.Split(query, "&") {
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		enc := strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "#", "%23", "+", "%2B")
		parts = append(parts, name+"="+enc.Replace(value))
	}
	return strings.ReplaceAll(path, " ", "%20"), strings.Join(parts, "&")
}

func args(a []any) string {
	out := make([]string, len(a))
	for i, v := range a {
		switch x := v.(type) {
		case time.Time:
			out[i] = x.Format(time.RFC3339Nano)
		case []byte:
			out[i] = fmt.Sprintf("bytes(%x)", x)
		default:
			b, _ := json.Marshal(x)
			out[i] = string(b)
		}
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// TestGoldenSQL renders every request of testdata/sqlgen/urls.txt for each
// dialect and compares with testdata/sqlgen/sql.golden.
func TestGoldenSQL(t *testing.T) {
	golden(t, testmodel.Service(), "urls.txt", "sql.golden")
}

// TestGoldenSummarySQL renders the reads of summary sets: one grouped
// statement, a filter on a dimension in WHERE and one on a measure in
// HAVING, counts of groups, keys with nulls, parents joined.
func TestGoldenSummarySQL(t *testing.T) {
	golden(t, summaryService(t), "summary-urls.txt", "summary.golden")
}

func golden(t *testing.T, svc *metadata.Service, urls, goldenName string) {
	dir := filepath.Join("..", "..", "testdata", "sqlgen")
	f, err := os.Open(filepath.Join(dir, urls))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dialects := []struct {
		name string
		d    sqlgen.Dialect
	}{{"postgres", postgres.Dialect()}, {"sqlite", sqlite.Dialect()}, {"mysql", mysql.Dialect()}}
	var out strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, query := splitURL(line)
		req, perr := uri.Parse(path, query)
		if perr != nil {
			t.Fatalf("%s: %v", line, perr)
		}
		p, berr := plan.Build(svc, req, "GET")
		if berr != nil {
			t.Fatalf("%s: %v", line, berr)
		}
		// the statement for the request's own options: $top, not the
		// server's page (which the plan adds as Limit)
		q := p.Query
		if p.Kind == plan.KindCollection {
			q.Limit = 0
		}
		if q.Limit == 0 && p.Top != nil {
			q.Limit = int(*p.Top)
		}
		fmt.Fprintf(&out, "### %s\n", line)
		for _, d := range dialects {
			var sql string
			var a []any
			var err error
			if p.Kind == plan.KindCount {
				sql, a, err = sqlgen.Count(d.d, &q)
			} else {
				sql, a, err = sqlgen.Select(d.d, &q)
			}
			if err != nil {
				t.Fatalf("%s [%s]: %v", line, d.name, err)
			}
			// a positional dialect binds one argument per "?", in text order
			if _, ok := d.d.(sqlgen.PositionalParams); ok && (strings.Count(sql, "?") != len(a) || strings.ContainsRune(sql, 0)) {
				t.Errorf("%s [%s]: %d placeholders for %d arguments: %s", line, d.name, strings.Count(sql, "?"), len(a), sql)
			}
			fmt.Fprintf(&out, "%s: %s\n%s args: %s\n", d.name, sql, strings.Repeat(" ", len(d.name)), args(a))
		}
		out.WriteString("\n")
	}
	golden := filepath.Join(dir, goldenName)
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./sources/sqlgen -update to create it)", err)
	}
	if string(want) != out.String() {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(out.String(), "\n")
		for i := 0; i < len(wl) && i < len(gl); i++ {
			if wl[i] != gl[i] {
				t.Fatalf("%s differs at line %d:\nwant: %s\ngot:  %s\n(run go test ./sources/sqlgen -update after checking the change)", goldenName, i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("%s differs in length: want %d lines, got %d", goldenName, len(wl), len(gl))
	}
}

func BenchmarkSelectSQL(b *testing.B) {
	svc := testmodel.Service()
	path, query := splitURL("Customers?$select=City,CustomerId&$count=true&$filter=Country eq 'USA' and contains(Name,'Acme')&$orderby=City&$top=26")
	req, _ := uri.Parse(path, query)
	p, _ := plan.Build(svc, req, "GET")
	d := postgres.Dialect()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := sqlgen.Select(d, &p.Query); err != nil {
			b.Fatal(err)
		}
	}
}
