// Command testsummary reads `go test -json` on its standard input, prints
// what `go test` would (each package's result, and the output of the
// tests that failed), and ends with what ran: per
// package the tests passed, failed and skipped, the totals, and each
// skipped test with the reason it gave. It exits 1 when a test or a
// package failed. scripts/test.sh pipes the suites through it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build output
	Test       string
	Output     string
}

type counts struct{ passed, failed, skipped int }

func (c counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
}

func main() { os.Exit(run(os.Stdin, os.Stdout)) }

func run(in io.Reader, out io.Writer) int {
	perPackage := map[string]*counts{}
	failedPackages := map[string]bool{}
	output := map[string][]string{} // package and test: its lines, for a skip's reason
	skips := map[string][]string{}  // reason: the tests that gave it
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not an event: go's own message
			continue
		}
		if e.Output != "" && e.Test == "" && e.Output != "PASS\n" {
			fmt.Fprint(out, e.Output) // a package's result, or its TestMain's words
		}
		pkg := e.Package
		if pkg == "" {
			pkg = e.ImportPath
		}
		c := perPackage[pkg]
		if c == nil && pkg != "" {
			c = &counts{}
			perPackage[pkg] = c
		}
		if e.Test == "" {
			if e.Action == "fail" || e.Action == "build-fail" {
				failedPackages[pkg] = true
			}
			continue
		}
		key := pkg + " " + e.Test
		if e.Action == "output" {
			output[key] = append(output[key], e.Output)
			continue
		}
		top := !strings.Contains(e.Test, "/")
		switch e.Action {
		case "pass":
			if top {
				c.passed++
			}
		case "fail":
			for _, l := range output[key] {
				fmt.Fprint(out, l)
			}
			if top {
				c.failed++
			}
		case "skip":
			if top {
				c.skipped++
				why := reason(output[key])
				skips[why] = append(skips[why], short(pkg)+" "+e.Test)
			}
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			delete(output, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testsummary: reading the test events:", err)
		return 1
	}

	fmt.Fprintln(out, "\n== what ran")
	var names []string
	var total counts
	for p := range perPackage {
		names = append(names, p)
	}
	sort.Strings(names)
	width := len("all")
	for _, p := range names {
		width = max(width, len(short(p)))
	}
	for _, p := range names {
		c := perPackage[p]
		total.passed, total.failed, total.skipped = total.passed+c.passed, total.failed+c.failed, total.skipped+c.skipped
		if *c == (counts{}) && !failedPackages[p] {
			continue // no tests
		}
		note := ""
		if failedPackages[p] && c.failed == 0 {
			note = " (the package failed: see its output above)"
		}
		fmt.Fprintf(out, "%-*s  %s%s\n", width, short(p), c, note)
	}
	fmt.Fprintf(out, "%-*s  %s\n", width, "all", total)
	if len(skips) > 0 {
		fmt.Fprintf(out, "\ndid not run (%d):\n", total.skipped)
		var whys []string
		for why := range skips {
			whys = append(whys, why)
		}
		sort.Slice(whys, func(i, j int) bool {
			return len(skips[whys[i]]) > len(skips[whys[j]]) || len(skips[whys[i]]) == len(skips[whys[j]]) && whys[i] < whys[j]
		})
		for _, why := range whys {
			fmt.Fprintf(out, "  %d: %s\n", len(skips[why]), why)
			writeWrapped(out, skips[why], "      ", 100)
		}
	}
	if total.failed > 0 || len(failedPackages) > 0 {
		return 1
	}
	return 0
}

// writeWrapped writes names separated by commas in lines of about width.
func writeWrapped(out io.Writer, names []string, indent string, width int) {
	line := indent
	for i, n := range names {
		if i < len(names)-1 {
			n += ","
		}
		if len(line) > len(indent) && len(line)+1+len(n) > width {
			fmt.Fprintln(out, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += n
	}
	fmt.Fprintln(out, line)
}

// reason is what a skipped test said last before its end line.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		// "file.go:12: why": the why
		if where, why, ok := strings.Cut(l, ": "); ok && strings.Contains(where, ".go:") && !strings.Contains(where, " ") {
			return why
		}
		return l
	}
	return "(no reason given)"
}

func short(pkg string) string { return strings.TrimPrefix(pkg, "github.com/odatagw/odatagw/") }
