package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/internal/retry"
	"github.com/odatagw/odatagw/sources"
)

// NotifyChannel is the channel the triggers of `odatagw track` notify with
// the changed table's name.
const NotifyChannel = "odatagw_changes"

// ReloadChannel is where an admin asks every gateway to read the schema
// again: NOTIFY odatagw, 'reload'.
const ReloadChannel = "odatagw"

var _ sources.ChangeWatcher = (*Source)(nil)

// Watch listens on NotifyChannel on a connection of its own (and keeps the
// change log trimmed, for as long as the source serves) (not one of
// the pool's, which serve queries) and reconnects with a bounded backoff.
func (s *Source) Watch(ctx context.Context, on sources.WatchEvents) {
	go s.trimChanges(ctx)
	retry.Forever(ctx, func(ctx context.Context, first bool) error {
		return s.listen(ctx, on, !first)
	}, func(err error) {
		s.opts.Logger.Warn("listening for table changes failed; retrying", "source", s.opts.Name, "error", dsn.Scrub(err.Error(), s.opts.DSN))
	})
}

func (s *Source) listen(ctx context.Context, on sources.WatchEvents, reconnected bool) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel+"; LISTEN "+ReloadChannel); err != nil {
		return err
	}
	if on.Listening != nil {
		on.Listening(true)
		defer on.Listening(false)
	}
	if reconnected && on.Changed != nil {
		on.Changed("") // notifications may have been missed meanwhile
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == ReloadChannel {
			if n.Payload == "reload" && on.Reload != nil {
				on.Reload()
			}
			continue
		}
		schema, table, _ := strings.Cut(n.Payload, ".")
		for _, es := range s.Metadata().Sets {
			if es.Schema == schema && es.Table == table && on.Changed != nil {
				on.Changed(es.Name)
			}
		}
	}
}
