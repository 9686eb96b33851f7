package control

import (
	"context"
	"log/slog"
	"net"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/sources"
)

// SourceOptions translates a source's settings, resolved
// (config.Source.Resolved), into what its kind opens with: the one place
// the gateway's configuration meets the sources' own options. dial, when
// set, reaches the database (an agent's tunnel).
func SourceOptions(name string, s config.Source, log *slog.Logger, dial func(context.Context, string, string) (net.Conn, error)) sources.Options {
	return sources.Options{Name: name, DSN: s.DSN, Schemas: s.Schemas, Include: s.Include, Exclude: s.Exclude,
		Keys: s.Keys, Names: s.Names, Columns: s.Columns, PageSize: s.PageSize, ReadOnly: s.ReadOnly, ReadOnlySets: s.ReadOnlySets,
		StatementTimeout: s.StatementTimeout.D(), MaxConnections: s.MaxConnections,
		Count: s.Count, CountThreshold: s.CountThreshold, SetCount: s.SetCount, ChangeRetention: s.ChangeRetention.D(),
		Search: s.Search, PerUser: s.Auth.PerUser, Logger: log, Dial: dial}
}
