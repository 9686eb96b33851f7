package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// checkRules parses a rule file as Prometheus does, every expression
// included. (That each series it reads is one the gateway serves is
// checked by the gateway's own tests, against a real scrape.)
func checkRules(path string) error {
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) > 0 {
		return errs[0]
	}
	n := 0
	for _, g := range groups.Groups {
		n += len(g.Rules)
	}
	fmt.Printf("%s: %d rules parse\n", path, n)
	return nil
}

// checkDashboard parses every query of a Grafana dashboard as PromQL, with
// its template variables given values.
func checkDashboard(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		return err
	}
	p := parser.NewParser(parser.Options{})
	vars := strings.NewReplacer("$__rate_interval", "1m", "$source", ".*", "${datasource}", "x")
	n := 0
	for _, panel := range dash.Panels {
		for _, t := range panel.Targets {
			n++
			if _, err := p.ParseExpr(vars.Replace(t.Expr)); err != nil {
				return fmt.Errorf("panel %q: %w", panel.Title, err)
			}
		}
	}
	fmt.Printf("%s: %d panels, %d queries parse\n", path, len(dash.Panels), n)
	return nil
}
