package sources

import (
	"context"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// ChangeTracker is implemented by sources that read the change log
// `odatagw track` installs, for delta links.
type ChangeTracker interface {
	// ChangePosition is where the log stands now: every change committed
	// by a transaction that started before it is below it, and any other
	// is at or after it, whatever order transactions commit in.
	ChangePosition(ctx context.Context) (uint64, error)
	// Changes lists the entities of a tracked set changed in [from, to):
	// each once, with its last change, in the order of those changes,
	// after the change numbered after, at most limit of them.
	Changes(ctx context.Context, set *metadata.EntitySet, from, to uint64, after int64, limit int) (ChangeBatch, error)
}

// ChangeBatch is one page of a set's changes.
type ChangeBatch struct {
	Changes []Change
	More    bool // more follow after the last
	// Emptied: the table was truncated in the range; which rows went is
	// not known.
	Emptied bool
}

// Change is an entity changed or deleted.
type Change struct {
	ID      int64 // the last change's number in the log
	Key     []plan.KeyValue
	Deleted bool
}
