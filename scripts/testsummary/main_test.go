package main

import (
	"strings"
	"testing"
)

// TestSummary: what the summary says for the events of a run.
func TestSummary(t *testing.T) {
	ev := func(action, pkg, test, output string) string {
		return `{"Action":"` + action + `","Package":"` + pkg + `","Test":"` + test + `","Output":` + quote(output) + `}`
	}
	cases := []struct {
		name   string
		events []string
		code   int
		want   []string // lines the output holds
		absent []string
	}{
		{"passes and a skip with its reason", []string{
			ev("run", "github.com/odatagw/odatagw/tests", "TestA", ""),
			ev("output", "github.com/odatagw/odatagw/tests", "TestA", "=== RUN   TestA\n"),
			ev("output", "github.com/odatagw/odatagw/tests", "TestA", "    a_test.go:9: PostgreSQL suite skipped: set ODATAGW_TEST_POSTGRES_URL to run it\n"),
			ev("output", "github.com/odatagw/odatagw/tests", "TestA", "--- SKIP: TestA (0.00s)\n"),
			ev("skip", "github.com/odatagw/odatagw/tests", "TestA", ""),
			ev("pass", "github.com/odatagw/odatagw/tests", "TestB", ""),
			ev("pass", "github.com/odatagw/odatagw/tests", "TestB/sub", ""),
			ev("output", "github.com/odatagw/odatagw/tests", "", "PASS\n"),
			ev("output", "github.com/odatagw/odatagw/tests", "", "ok  \tgithub.com/odatagw/odatagw/tests\t0.1s\n"),
			ev("pass", "github.com/odatagw/odatagw/tests", "", ""),
			ev("pass", "github.com/odatagw/odatagw/cache", "TestC", ""),
		}, 0, []string{
			"ok  \tgithub.com/odatagw/odatagw/tests\t0.1s",
			"tests  1 passed, 0 failed, 1 skipped",
			"cache  1 passed, 0 failed, 0 skipped",
			"all    2 passed, 0 failed, 1 skipped",
			"did not run (1):",
			"  1: PostgreSQL suite skipped: set ODATAGW_TEST_POSTGRES_URL to run it\n      tests TestA\n",
		}, []string{"=== RUN", "TestB/sub", "PASS\n"}},
		{"a failure shows its output and fails the run", []string{
			ev("output", "p", "TestF", "    f_test.go:3: got 2, want 3\n"),
			ev("fail", "p", "TestF", ""),
			ev("fail", "p", "", ""),
		}, 1, []string{"f_test.go:3: got 2, want 3", "p    0 passed, 1 failed, 0 skipped"}, []string{"did not run"}},
		{"a package that does not build fails the run", []string{
			`{"ImportPath":"q","Action":"build-output","Output":"q/x.go:1: syntax error\n"}`,
			`{"ImportPath":"q","Action":"build-fail"}`,
			ev("fail", "q", "", ""),
		}, 1, []string{"q/x.go:1: syntax error", "the package failed"}, nil},
	}
	for _, c := range cases {
		var out strings.Builder
		code := run(strings.NewReader(strings.Join(c.events, "\n")), &out)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: the summary lacks %q:\n%s", c.name, w, out.String())
			}
		}
		for _, a := range c.absent {
			if strings.Contains(out.String(), a) {
				t.Errorf("%s: the summary has %q:\n%s", c.name, a, out.String())
			}
		}
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
