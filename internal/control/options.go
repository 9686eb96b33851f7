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
		Search: s.Search, Summaries: summaries(s.Summaries), PerUser: s.Auth.PerUser, Logger: log, Dial: dial,
		Standbys: s.Replicas, MaxStandbyLag: s.MaxReplicaLag.D()}
}

// summaries translates the configuration's summary sets into the
// sources' own terms.
func summaries(in map[string]config.Summary) []sources.Summary {
	var out []sources.Summary
	for name, s := range in {
		sum := sources.Summary{Name: name, From: s.From, Where: s.Where}
		for _, d := range s.Dimensions {
			sum.Dimensions = append(sum.Dimensions, sources.Dimension{Column: d.Column, Bucket: d.Bucket, As: d.As})
		}
		for _, m := range s.Measures {
			sum.Measures = append(sum.Measures, sources.Measure{Name: m.Name, Of: m.Of})
		}
		out = append(out, sum)
	}
	return out
}
