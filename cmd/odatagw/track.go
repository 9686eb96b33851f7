package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/postgres"
)

// run prints or applies the change tracking SQL for the tables the
// gateway would serve from the DSN.
func (c *trackCmd) run(stdout io.Writer) error {
	kind, err := sources.KindOf(c.DSN)
	if err != nil {
		return err
	}
	if kind != "postgres" {
		return fmt.Errorf("change tracking needs PostgreSQL for now; %s sources are not tracked", kind)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	src, err := postgres.OpenSource(ctx, sources.Options{Name: "track", Source: config.Source{DSN: c.DSN, Schemas: c.Schema, MaxConnections: 2}, Logger: quiet()})
	if err != nil {
		return fmt.Errorf("%s: %s", dsn.Redact(c.DSN), dsn.Scrub(err.Error(), c.DSN))
	}
	tables, err := src.TrackedTables(c.Tables)
	src.Close()
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no table to track: the source serves none (views cannot be tracked)")
	}
	var sql string
	if c.Drop {
		sql = postgres.UntrackSQL(tables, len(c.Tables) == 0)
	} else {
		sql = postgres.TrackSQL(tables)
	}
	if !c.Apply {
		_, err := io.WriteString(stdout, sql)
		return err
	}
	if err := postgres.ApplyTracking(ctx, c.DSN, sql); err != nil {
		return fmt.Errorf("applying: %s", dsn.Scrub(err.Error(), c.DSN))
	}
	// running gateways read the schema again, and learn what is tracked
	if conn, err := pgx.Connect(ctx, c.DSN); err == nil {
		conn.Exec(context.Background(), `NOTIFY odatagw, 'reload'`)
		conn.Close(context.Background())
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Schema + "." + t.Name
	}
	verb := "tracking"
	if c.Drop {
		verb = "no longer tracking"
	}
	fmt.Fprintf(stdout, "%s %d tables: %s\n", verb, len(tables), strings.Join(names, ", "))
	return nil
}
