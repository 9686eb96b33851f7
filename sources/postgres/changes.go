package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/sources"
)

var _ sources.ChangeTracker = (*Source)(nil)

// ChangePosition is the oldest transaction still running (the snapshot's
// xmin): every transaction below it has ended, so a change logged with a
// lower xid is committed or gone for good, and none can appear below it
// later. Reading [from, xmin) at each poll delivers each change once, in
// whatever order the transactions committed.
func (s *Source) ChangePosition(ctx context.Context) (uint64, error) {
	var text string
	if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&text); err != nil {
		return 0, mapError(ctx, err)
	}
	return strconv.ParseUint(text, 10, 64)
}

func (s *Source) Changes(ctx context.Context, set *metadata.EntitySet, from, to uint64, after int64, limit int) (sources.ChangeBatch, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout.D())
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT key::text, (array_agg(op ORDER BY id DESC))[1]::text, max(id)
		FROM odatagw.changes
		WHERE tbl = $1 AND xid >= $2::text::xid8 AND xid < $3::text::xid8
		GROUP BY key HAVING max(id) > $4
		ORDER BY max(id) LIMIT $5`,
		set.Schema+"."+set.Table, strconv.FormatUint(from, 10), strconv.FormatUint(to, 10), after, limit+1)
	if err != nil {
		return sources.ChangeBatch{}, mapError(ctx, err)
	}
	defer rows.Close()
	var b sources.ChangeBatch
	for rows.Next() {
		var key, op string
		var id int64
		if err := rows.Scan(&key, &op, &id); err != nil {
			return sources.ChangeBatch{}, mapError(ctx, err)
		}
		if op == "T" {
			b.Emptied = true
			continue
		}
		if len(b.Changes) == limit {
			b.More = true
			break
		}
		kv, err := sources.KeyValues(set, key)
		if err != nil {
			return sources.ChangeBatch{}, odata.Internal(err)
		}
		b.Changes = append(b.Changes, sources.Change{ID: id, Key: kv, Deleted: op == "D"})
	}
	return b, rows.Err()
}

// trimBatch bounds one DELETE of the trimming job, so that it never holds
// many locks or a long transaction.
const trimBatch = 10_000

// trimChanges keeps the change log bounded: entries older than the
// retention (past which every delta link answers 410) are deleted, in
// batches, every quarter of the retention (at most every ten minutes).
// Every replica may trim; the work is the same.
func (s *Source) trimChanges(ctx context.Context) {
	retention := s.opts.ChangeRetention.D()
	every := min(max(retention/4, time.Second), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tracked := false
		for _, es := range s.Metadata().Sets {
			tracked = tracked || es.Tracked
		}
		if !tracked {
			continue
		}
		for ctx.Err() == nil {
			tag, err := s.pool.Exec(ctx, `DELETE FROM odatagw.changes WHERE id IN
				(SELECT id FROM odatagw.changes WHERE at < now() - $1::interval LIMIT $2)`, retention.String(), trimBatch)
			if err != nil {
				if !warned && ctx.Err() == nil {
					s.opts.Logger.Warn("trimming the change log failed; it grows until the gateway's user may delete from odatagw.changes",
						"source", s.opts.Name, "error", dsn.Scrub(err.Error(), s.opts.DSN))
					warned = true
				}
				break
			}
			if tag.RowsAffected() < trimBatch {
				break
			}
		}
	}
}
