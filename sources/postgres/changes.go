package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

var _ sources.ChangeTracker = (*Source)(nil)

// ChangePosition is the oldest transaction of this database still
// running (or, with none, the next transaction number): every transaction
// of the database below it has ended, so a change logged with a lower xid
// is committed or gone for good, and none can appear below it later.
// Reading [from, position) at each poll delivers each change once, in
// whatever order the transactions committed. Only this database's
// transactions count: a long one in another database of the server (a
// report, a load) writes nothing here and holds nothing back.
func (s *Source) ChangePosition(ctx context.Context) (uint64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	defer conn.Release()
	// first the snapshot, then, in a statement (and transaction) of its
	// own, who runs here: a transaction in the snapshot that has ended by
	// then has committed or aborted, and one still running is listed
	var snap string
	if err := conn.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
		return 0, mapError(ctx, err)
	}
	rows, err := conn.Query(ctx, `SELECT backend_xid::text FROM pg_stat_activity
		WHERE datname = current_database() AND backend_xid IS NOT NULL
		UNION SELECT transaction::text FROM pg_prepared_xacts WHERE database = current_database()`)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	here := map[uint32]bool{}
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			rows.Close()
			return 0, mapError(ctx, err)
		}
		if n, err := strconv.ParseUint(x, 10, 32); err == nil {
			here[uint32(n)] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, mapError(ctx, err)
	}
	return positionOf(snap, here)
}

// positionOf reads a snapshot ("xmin:xmax:xip,...") and returns its oldest
// running transaction that belongs here (matched on the 32-bit xid), or
// xmax when none does.
func positionOf(snap string, here map[uint32]bool) (uint64, error) {
	parts := strings.SplitN(snap, ":", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("reading the snapshot %q", snap)
	}
	xmax, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the snapshot %q: %w", snap, err)
	}
	pos := xmax
	for _, f := range strings.Split(parts[2], ",") {
		if f == "" {
			continue
		}
		x, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading the snapshot %q: %w", snap, err)
		}
		if here[uint32(x)] && x < pos {
			pos = x
		}
	}
	return pos, nil
}

func (s *Source) Changes(ctx context.Context, set *metadata.EntitySet, from, to uint64, after int64, limit int) (sources.ChangeBatch, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
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
	b, err := sources.ReadChanges(rows, set, limit)
	if err != nil {
		return sources.ChangeBatch{}, mapError(ctx, err)
	}
	return b, nil
}

// trimBatch bounds one DELETE of the trimming job, so that it never holds
// many locks or a long transaction.
const trimBatch = 10_000

// trimChanges keeps the change log bounded: entries older than the
// retention (past which every delta link answers 410) are deleted, in
// batches, every quarter of the retention (at most every ten minutes).
// Every replica may trim; the work is the same.
func (s *Source) trimChanges(ctx context.Context) {
	retention := s.opts.ChangeRetention
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
