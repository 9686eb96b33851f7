package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/sources"
)

// run prints or applies the change tracking SQL for the tables the
// gateway would serve from the DSN.
func (c *trackCmd) run(stdout io.Writer) error {
	if _, err := sources.KindOf(c.DSN); err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	src, err := sources.Open(ctx, sources.Options{Name: "track", DSN: c.DSN, Schemas: c.Schema, MaxConnections: 2, Logger: quiet()})
	if err != nil {
		return fmt.Errorf("%s: %s", dsn.Redact(c.DSN), dsn.Scrub(err.Error(), c.DSN))
	}
	defer src.Close()
	installer, ok := src.(sources.TrackingInstaller)
	if !ok {
		return fmt.Errorf("this kind of source cannot be tracked yet")
	}
	sql, err := installer.TrackingSQL(c.Tables, c.Drop)
	if err != nil {
		return err
	}
	if !c.Apply {
		_, err := io.WriteString(stdout, sql)
		return err
	}
	if err := installer.ApplyTracking(ctx, sql); err != nil {
		return fmt.Errorf("applying: %s", dsn.Scrub(err.Error(), c.DSN))
	}
	verb := "tracking"
	if c.Drop {
		verb = "no longer tracking"
	}
	what := "every table it serves"
	if len(c.Tables) > 0 {
		what = strings.Join(c.Tables, ", ")
	}
	fmt.Fprintf(stdout, "%s %s\n", verb, what)
	return nil
}
