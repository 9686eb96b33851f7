package sources

import (
	"context"
	"sync/atomic"
	"time"
)

// Positions keeps, per source, the newest position in the database's
// write-ahead log that a write through any replica of the gateway reached,
// where every replica reads it before it reads from a standby: a standby
// that has not replayed that far would answer from before the write.
type Positions interface {
	RaisePosition(ctx context.Context, source string, pos uint64) error
	Position(ctx context.Context, source string) (uint64, error)
}

// Standbyed is implemented by sources that read from standbys: their
// state, for the metrics, the admin page and odatagw check.
type Standbyed interface {
	Standbys() StandbyReport
}

// StandbyReport is how a source's reads are spread now.
type StandbyReport struct {
	Standbys []StandbyState `json:"standbys"`
	// PrimaryReads are the reads that went to the primary although the
	// source has standbys, by why: no standby in rotation, none had
	// replayed the newest write in time, one failed mid-read, or the
	// shared position could not be read.
	PrimaryReads map[string]int64 `json:"primary_reads"`
	// AllGone: no standby is in rotation; every read goes to the primary.
	AllGone bool `json:"all_gone"`
}

// Why a read went to the primary (StandbyReport.PrimaryReads).
const (
	PrimaryNoStandby = "no_standby"     // none in rotation: down, lagging or promoted
	PrimaryBehind    = "behind"         // none had replayed the newest write within the wait
	PrimaryFailed    = "standby_failed" // the standby failed before the first row
	PrimaryUnknown   = "position_unknown"
)

// StandbyState is one standby's.
type StandbyState struct {
	Address string `json:"address"` // host:port/database, no credentials
	// State: serving, lagging (behind more than the bound), down (failed;
	// tried again at Retry), promoted (no longer a standby) or starting.
	State string        `json:"state"`
	Lag   time.Duration `json:"lag_ns"`
	Reads int64         `json:"reads"`
	Error string        `json:"error,omitempty"`
	Retry time.Time     `json:"retry,omitempty"`
}

// States of a standby.
const (
	StandbyStarting = "starting"
	StandbyServing  = "serving"
	StandbyLagging  = "lagging"
	StandbyDown     = "down"
	StandbyPromoted = "promoted"
)

// ReadPlaces counts where one request's statements ran: the server puts
// one in the request's context when its source has standbys, and the
// request's shape says where it was read.
type ReadPlaces struct{ Standby, Primary atomic.Int32 }

type readPlacesKey struct{}

// WithReadPlaces returns ctx carrying p.
func WithReadPlaces(ctx context.Context, p *ReadPlaces) context.Context {
	return context.WithValue(ctx, readPlacesKey{}, p)
}

// ReadOn records that a statement of ctx's request ran on a standby or on
// the primary.
func ReadOn(ctx context.Context, standby bool) {
	p, _ := ctx.Value(readPlacesKey{}).(*ReadPlaces)
	if p == nil {
		return
	}
	if standby {
		p.Standby.Add(1)
	} else {
		p.Primary.Add(1)
	}
}

// StandbyChecker is implemented by sources that can look at their
// standbys closely, for odatagw check: how far behind each is and whether
// it serves the schema the primary does.
type StandbyChecker interface {
	CheckStandbys(ctx context.Context) []StandbyCheck
}

// StandbyCheck is what odatagw check found of one standby.
type StandbyCheck struct {
	Address string `json:"address"`
	// Error: the standby cannot be read (down, refusing, or no standby
	// at all: a primary of its own).
	Error string `json:"error,omitempty"`
	// BytesBehind is the WAL the standby has not replayed; Behind how old
	// the newest transaction it replayed is while it is behind (0 when it
	// has replayed everything).
	BytesBehind int64         `json:"bytes_behind"`
	Behind      time.Duration `json:"behind_ns"`
	// Differences are where its schema is not the primary's, as the
	// gateway reads it: tables and columns missing or typed otherwise.
	Differences []string `json:"differences,omitempty"`
}

type newestKey struct{}

// ReadNewest marks ctx's reads as ones that must see every write committed
// before them, wherever it was made: the rows of a read whose delta link
// continues from the change log's position, and a delta's rows. A source
// with standbys runs them on the primary, since a standby knows nothing
// of writes made behind the gateway that it has not replayed yet.
func ReadNewest(ctx context.Context) context.Context {
	return context.WithValue(ctx, newestKey{}, true)
}

// MustReadNewest reports whether ctx's reads were marked by ReadNewest.
func MustReadNewest(ctx context.Context) bool {
	v, _ := ctx.Value(newestKey{}).(bool)
	return v
}
