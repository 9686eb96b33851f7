package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// adminFlags say where the admin API is and how to sign in to it.
type adminFlags struct {
	Admin          string `env:"ODATAGW_ADMIN_URL" default:"http://127.0.0.1:8081" placeholder:"URL" help:"The gateway's admin API (its --admin-listen)."`
	AdminTokenFile string `env:"ODATAGW_ADMIN_TOKEN_FILE" placeholder:"FILE" help:"File holding the admin token, when ODATAGW_ADMIN_TOKEN is not set (default: the file a gateway on this machine writes beside its state)."`
}

func (a adminFlags) client() (*admin.Client, error) {
	tok, err := readToken(a.AdminTokenFile)
	if err != nil {
		return nil, err
	}
	return &admin.Client{BaseURL: a.Admin, Token: tok}, nil
}

// sourceOptions are the options a registration may set.
type sourceOptions struct {
	Schema         []string `placeholder:"SCHEMA" help:"PostgreSQL schema to serve; repeatable (default public)."`
	Include        []string `placeholder:"PATTERN" help:"Serve only tables matching; repeatable."`
	Exclude        []string `placeholder:"PATTERN" help:"Leave out tables matching; repeatable."`
	PageSize       int      `placeholder:"N" help:"Server-driven page size (default 1000, at most 2000)."`
	ReadOnly       *bool    `help:"Refuse writes from Salesforce (--read-only, or --read-only=false)."`
	MaxConnections int      `placeholder:"N" help:"Connection pool size (default 10)."`
	PasswordStdin  bool     `help:"Read the database password from standard input, so it stays out of the shell history."`
	Basic          *bool    `help:"Accept the gateway's users with their passwords (HTTP Basic)."`
	TokenHeader    string   `placeholder:"HEADER" help:"Accept the gateway's token users' API tokens in this header (e.g. X-Api-Key)."`
	Anonymous      *bool    `help:"Let callers without credentials in (only behind a proxy that restricts access)."`
	Via            *string  `placeholder:"AGENT" help:"Reach the database through this agent's tunnel (odatagw agent add; docs/agent.md); the DSN names the database as the agent sees it. --via= goes direct again."`
	Replica        []string `placeholder:"URL" help:"A PostgreSQL streaming standby of the database that takes reads (postgres://host:port/database, no password: the source's is used); repeatable. check reports how far behind each is and whether it serves the same schema."`
}

func (o sourceOptions) apply(src *registry.Source, stdin io.Reader) error {
	if len(o.Schema) > 0 {
		src.Schemas = o.Schema
	}
	if len(o.Include) > 0 {
		src.Include = o.Include
	}
	if len(o.Exclude) > 0 {
		src.Exclude = o.Exclude
	}
	if o.PageSize != 0 {
		src.PageSize = o.PageSize
	}
	if o.ReadOnly != nil {
		src.ReadOnly = *o.ReadOnly
	}
	if o.MaxConnections != 0 {
		src.MaxConnections = o.MaxConnections
	}
	if o.Basic != nil {
		src.Auth.Basic = *o.Basic
	}
	if o.TokenHeader != "" {
		src.Auth.TokenHeader = o.TokenHeader
	}
	if o.Anonymous != nil {
		src.Auth.Anonymous = *o.Anonymous
	}
	if o.Via != nil {
		src.Via = *o.Via
	}
	if len(o.Replica) > 0 {
		src.Replicas = o.Replica
	}
	if o.PasswordStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return err
		}
		src.Password = strings.TrimRight(string(b), "\r\n")
	}
	return nil
}

type sourceCmd struct {
	List   sourceListCmd   `cmd:"" help:"List the data sources of a running gateway with their status."`
	Add    sourceAddCmd    `cmd:"" help:"Register a data source: the gateway connects and reads its schema first, and serves it at once."`
	Update sourceUpdateCmd `cmd:"" help:"Change a data source; it is swapped in only if it works, and requests in flight finish on the old one."`
	Remove sourceRemoveCmd `cmd:"" help:"Unregister a data source; requests in flight finish first."`
	Test   sourceTestCmd   `cmd:"" help:"Test a DSN through the gateway without saving it, and print what Salesforce would get."`
	Reload sourceReloadCmd `cmd:"" help:"Read a source's schema again, after a change in the database."`
}

type sourceListCmd struct {
	adminFlags
	JSON bool `help:"Print JSON."`
}

type sourceAddCmd struct {
	adminFlags
	sourceOptions
	Name string `arg:"" help:"Name: the service root becomes /odata/NAME/."`
	DSN  string `arg:"" help:"postgres://user@host:5432/db, mysql://user@host:3306/db (or mariadb://...) or sqlite:/path/file.db; a password in it is stored encrypted."`
}

type sourceUpdateCmd struct {
	adminFlags
	sourceOptions
	Name string `arg:""`
	DSN  string `placeholder:"DSN" help:"New DSN (default: unchanged; the saved password is kept unless a new one is given)."`
}

type sourceRemoveCmd struct {
	adminFlags
	Name string `arg:""`
}

type sourceTestCmd struct {
	adminFlags
	sourceOptions
	DSN  string `arg:""`
	JSON bool   `help:"Print the report as JSON."`
}

type sourceReloadCmd struct {
	adminFlags
	Name string `arg:""`
}

type checkCmd struct {
	sourceOptions
	DSN            string   `arg:"" help:"The database to check: postgres://..., mysql://... (or mariadb://...) or sqlite:PATH; or, with --config, a service of the configuration file: every source of it, and the service as Salesforce would see it."`
	Config         string   `env:"ODATAGW_CONFIG" type:"existingfile" placeholder:"FILE" help:"The gateway's configuration file, for a service named instead of a DSN."`
	Key            []string `placeholder:"TABLE=COL[,COL]" help:"Key columns for a view or keyless table; repeatable."`
	JSON           bool     `help:"Print the report as JSON."`
	Indexes        bool     `help:"Print only the CREATE INDEX CONCURRENTLY statements for the indexes Salesforce's traffic needs and the database lacks, ready to run (PostgreSQL: trigram, prefix, foreign-key and key indexes; MySQL: foreign keys)."`
	SmallTables    bool     `help:"With --indexes: advise indexes on tables under 10,000 rows too (left out by default: a sequential scan reads them at once)."`
	Strict         bool     `help:"Exit 1 on warnings too, not only on errors."`
	ReportScans    bool     `help:"With --from-traffic: print the report scans the gateway saw (Salesforce reading every row of a query, page after page, for a report or dashboard), each with the summary set that would answer it from the database."`
	FromTraffic    string   `placeholder:"ADMIN_URL" help:"With --indexes or --report-scans: ask a running gateway's admin API (e.g. http://127.0.0.1:8081) about its traffic: the indexes it needs, ranked by the database time they would save, or its report scans; the argument then names the source there."`
	AdminTokenFile string   `env:"ODATAGW_ADMIN_TOKEN_FILE" placeholder:"FILE" help:"With --from-traffic: the file holding the admin token, when ODATAGW_ADMIN_TOKEN is not set."`
}

// checkFailed is a check whose report has errors (or, with --strict,
// warnings): the report is printed in full and the command exits 1, so
// that a pipeline can stop on it.
type checkFailed struct{ errors, warnings int }

func (c checkFailed) Error() string {
	return "the check found " + counted(c.errors, "error") + " and " + counted(c.warnings, "warning")
}

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

func (c *sourceCmd) run(command string, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	switch command {
	case "source list":
		return c.List.run(ctx, stdin, stdout)
	case "source add <name> <dsn>":
		return c.Add.run(ctx, stdin, stdout)
	case "source update <name>":
		return c.Update.run(ctx, stdin, stdout)
	case "source remove <name>":
		return c.Remove.run(ctx, stdin, stdout)
	case "source test <dsn>":
		return c.Test.run(ctx, stdin, stdout)
	case "source reload <name>":
		return c.Reload.run(ctx, stdin, stdout)
	}
	return fmt.Errorf("unknown command %s", command)
}

// run prints the sources of a running gateway with their status.
func (c *sourceListCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := cl.List(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSETS\tORIGIN\tDSN\tSERVICE URL")
	for _, s := range list {
		state := s.State
		if state == "serving" && !s.Connected {
			state = "unreachable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, state, len(s.EntitySets), s.Origin, s.DSN, s.ServiceURL)
	}
	tw.Flush()
	for _, s := range list {
		if s.LastError != "" {
			fmt.Fprintf(stdout, "%s: last error: %s\n", s.Name, s.LastError)
		}
	}
	return nil
}

// run registers a source through the admin API.
func (c *sourceAddCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	src := registry.Source{Name: c.Name, Source: config.Source{DSN: c.DSN}}
	if err := c.apply(&src, stdin); err != nil {
		return err
	}
	saved, err := cl.Create(ctx, src)
	if err != nil {
		return err
	}
	st, _, err := cl.Get(ctx, saved.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s: %d entity sets at %s\n", saved.Name, len(st.EntitySets), st.ServiceURL)
	return nil
}

// run changes a source through the admin API, from its current registration.
func (c *sourceUpdateCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	st, etag, err := cl.Get(ctx, c.Name)
	if err != nil {
		return err
	}
	src := st.Source
	src.Password = ""
	if c.DSN != "" {
		src.DSN = c.DSN
	}
	if err := c.apply(&src, stdin); err != nil {
		return err
	}
	saved, err := cl.Update(ctx, src, etag)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "updated %s (version %d)\n", saved.Name, saved.Version)
	return nil
}

// run unregisters a source.
func (c *sourceRemoveCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.Delete(ctx, c.Name, ""); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %s\n", c.Name)
	return nil
}

// run tests a DSN through the gateway and prints its report.
func (c *sourceTestCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	src := registry.Source{Name: "test", Source: config.Source{DSN: c.DSN}}
	if err := c.apply(&src, stdin); err != nil {
		return err
	}
	rep, err := cl.Test(ctx, src)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(stdout, rep)
	}
	return rep.WriteText(stdout)
}

// run asks the gateway to read a source's schema again.
func (c *sourceReloadCmd) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	out, err := cl.Reload(ctx, c.Name)
	if err != nil {
		return err
	}
	if w, ok := out["warning"].(string); ok {
		fmt.Fprintln(stdout, "warning:", w)
	}
	return printJSON(stdout, out)
}

// run opens the database directly, without a gateway, and prints the
// compatibility report.
func (c *checkCmd) run(stdin io.Reader, stdout io.Writer) error {
	if c.FromTraffic != "" {
		return c.fromTraffic(stdout)
	}
	if _, err := sources.KindOf(c.DSN); err != nil && c.Config != "" {
		return c.checkService(stdout)
	}
	src := registry.Source{Name: "check", Source: config.Source{DSN: c.DSN}}
	if err := c.apply(&src, stdin); err != nil {
		return err
	}
	if _, err := sources.KindOf(src.DSN); err != nil {
		return err
	}
	settings := src.Config()
	for _, k := range c.Key {
		table, cols, ok := strings.Cut(k, "=")
		if !ok || cols == "" {
			return fmt.Errorf("--key %q: write TABLE=COLUMN[,COLUMN]", k)
		}
		if settings.Keys == nil {
			settings.Keys = map[string][]string{}
		}
		settings.Keys[table] = strings.Split(cols, ",")
	}
	report, err := control.Check(context.Background(), "check", settings, configDefaults())
	if err != nil {
		return fmt.Errorf("%s: %s", dsn.Redact(c.DSN), dsn.Scrub(err.Error(), c.DSN))
	}
	switch {
	case c.Indexes && c.JSON && c.SmallTables:
		err = printJSON(stdout, append(report.Indexes, report.SmallTables...))
	case c.Indexes && c.JSON:
		err = printJSON(stdout, report.Indexes)
	case c.Indexes:
		err = report.WriteIndexSQL(stdout, c.SmallTables)
	case c.JSON:
		err = printJSON(stdout, report)
	default:
		err = report.WriteText(stdout)
	}
	if err == nil && (report.Errors > 0 || c.Strict && report.Warnings > 0) {
		err = checkFailed{report.Errors, report.Warnings}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stdinOrEmpty is the process's standard input.
var stdinOrEmpty io.Reader = os.Stdin

// fromTraffic prints the indexes a running gateway's traffic needs for a
// source, the costliest first, ready to run.
func (c *checkCmd) fromTraffic(stdout io.Writer) error {
	if !c.Indexes && !c.ReportScans {
		return errors.New("--from-traffic goes with --indexes or --report-scans")
	}
	tok, err := readToken(c.AdminTokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	cl := &admin.Client{BaseURL: c.FromTraffic, Token: tok}
	if c.ReportScans {
		return c.reportScans(ctx, cl, stdout)
	}
	list, err := cl.IndexAdvice(ctx, c.DSN)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(stdout, list)
	}
	var b strings.Builder
	if len(list) == 0 {
		b.WriteString("-- no index to add: the traffic so far reads nothing an index would serve better\n")
	}
	needs := map[string]bool{}
	for _, a := range list {
		if a.Needs != "" && !needs[a.Needs] {
			needs[a.Needs] = true
			b.WriteString(a.Needs + "\n")
		}
	}
	for _, a := range list {
		if a.FromTraffic {
			fmt.Fprintf(&b, "-- %s (%s): %s, %.0f ms of database time in 24 hours; %s\n%s\n", a.Table, a.Column, counted(int(a.Calls), "call"), a.DBMS, a.Reason, a.SQL)
		} else {
			fmt.Fprintf(&b, "-- %s (%s), no traffic yet: %s\n%s\n", a.Table, a.Column, a.Reason, a.SQL)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// english writes numbers as the other texts do: 30,004.
var english = message.NewPrinter(language.English)

// reportScans prints the report scans a running gateway saw on a source,
// with what each read and the summary set that would replace it.
func (c *checkCmd) reportScans(ctx context.Context, cl *admin.Client, stdout io.Writer) error {
	list, err := cl.Shapes(ctx, c.DSN)
	if err != nil {
		return err
	}
	var scans []shapes.Entry
	for _, e := range list {
		if e.ReportScan != nil {
			scans = append(scans, e)
		}
	}
	if c.JSON {
		return printJSON(stdout, scans)
	}
	var b strings.Builder
	if len(scans) == 0 {
		b.WriteString("no report scan in the last 24 hours: no report or dashboard read a whole query page after page\n")
	}
	for _, e := range scans {
		sc := e.ReportScan
		fmt.Fprintf(&b, "report scan of %s", e.Shape.Set)
		if e.Shape.Filter != "" {
			fmt.Fprintf(&b, " (filter %s)", e.Shape.Filter)
		}
		fmt.Fprintf(&b, ": %s in 24 hours; the last read %s rows (%.1f MB) in %s over %.1f s\n", counted(sc.Runs24h, "run"),
			english.Sprintf("%d", sc.Rows), float64(sc.Bytes)/(1<<20), counted(int(sc.Pages), "page"), sc.Seconds)
		switch {
		case sc.TooLarge:
			b.WriteString("  past Salesforce's 16 MB: the report loads nothing (\"The OData query result was too large\")\n")
		case sc.OverGroupings:
			b.WriteString("  past the 2,000 rows a report shows or groups\n")
		}
		if sc.Summary != "" {
			b.WriteString("  a summary set answers it from the database in a few rows; add it to the source (adjust the dimensions to the report's groupings):\n")
			for _, line := range strings.Split(strings.TrimRight(sc.Summary, "\n"), "\n") {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// checkService reports on a service of the configuration file: each of
// its sources, then the service as one data source (its names, its
// lookups within and across its sources).
func (c *checkCmd) checkService(stdout io.Writer) error {
	file, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	svc, ok := file.Services[c.DSN]
	if !ok {
		return fmt.Errorf("%s has no service named %q (and %q is no DSN)", c.Config, c.DSN, c.DSN)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	rep, _, err := control.CheckService(ctx, c.DSN, svc, *file)
	if err != nil {
		return scrubMembers(err, *file, svc)
	}
	if c.JSON {
		err = printJSON(stdout, rep)
	} else {
		for _, m := range svc.MemberNames() {
			fmt.Fprintf(stdout, "== source %s ==\n", m)
			if err = rep.Members[m].WriteText(stdout); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "== service %s: one data source for %s ==\n", c.DSN, strings.Join(svc.MemberNames(), ", "))
		err = rep.Service.WriteText(stdout)
	}
	errs, warns := rep.Service.Errors, rep.Service.Warnings
	for _, r := range rep.Members {
		errs, warns = errs+r.Errors, warns+r.Warnings
	}
	if err == nil && (errs > 0 || c.Strict && warns > 0) {
		err = checkFailed{errs, warns}
	}
	return err
}
