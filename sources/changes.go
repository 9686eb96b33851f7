package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/convert"
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

// KeyValues reads a key as the change log keeps it (a JSON object of the
// key columns) as typed values.
func KeyValues(set *metadata.EntitySet, key string) ([]plan.KeyValue, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(key)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("change log key %s: %w", key, err)
	}
	out := make([]plan.KeyValue, len(set.Type.Key))
	for i, p := range set.Type.Key {
		v, ok := raw[p.Column]
		if !ok {
			return nil, fmt.Errorf("change log key %s lacks %s", key, p.Column)
		}
		if n, isNum := v.(json.Number); isNum {
			v = string(n) // read numbers from their text, exactly
		}
		val, err := convert.To(v, p.Type)
		if err != nil {
			return nil, fmt.Errorf("change log key %s: %w", key, err)
		}
		out[i] = plan.KeyValue{Prop: p, Value: val}
	}
	return out, nil
}

// TrackingInstaller is implemented by kinds that can install change
// tracking (odatagw track): the SQL for the tables named (every table
// served when none is), or to remove it, and a way to run it.
type TrackingInstaller interface {
	TrackingSQL(tables []string, drop bool) (string, error)
	ApplyTracking(ctx context.Context, sql string) error
}

// DriverRows is what both drivers' result sets offer, for the readers kinds
// share.
type DriverRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReadChanges reads a change log query's rows (key as JSON, the last
// operation, its number) into a batch of at most limit changes; a row past
// the limit says more follow, and an operation T (TRUNCATE) that the table
// was emptied.
func ReadChanges(rows DriverRows, set *metadata.EntitySet, limit int) (ChangeBatch, error) {
	var b ChangeBatch
	for rows.Next() {
		var key, op string
		var id int64
		if err := rows.Scan(&key, &op, &id); err != nil {
			return ChangeBatch{}, err
		}
		if op == "T" {
			b.Emptied = true
			continue
		}
		if len(b.Changes) == limit {
			b.More = true
			break
		}
		kv, err := KeyValues(set, key)
		if err != nil {
			return ChangeBatch{}, err
		}
		b.Changes = append(b.Changes, Change{ID: id, Key: kv, Deleted: op == "D"})
	}
	return b, rows.Err()
}

// MarkTracked marks the tables whose names (as name(t) spells them) a
// query of the tracked list returns.
func MarkTracked(rows DriverRows, tables []Table, name func(Table) string) error {
	tracked := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		tracked[t] = true
	}
	for i := range tables {
		tables[i].Tracked = tracked[name(tables[i])]
	}
	return rows.Err()
}

// TablesToTrack are the served tables named (by table or set name), or
// every one when none is: views cannot carry triggers. A name that is not
// a served table is an error.
func TablesToTrack(svc *metadata.Service, names []string) ([]*metadata.EntitySet, error) {
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	var sets []*metadata.EntitySet
	for _, es := range svc.Sets {
		if !es.IsView && (len(names) == 0 || wanted[es.Table] || wanted[es.Name]) {
			sets = append(sets, es)
			delete(wanted, es.Table)
			delete(wanted, es.Name)
		}
	}
	for _, n := range names {
		if wanted[n] {
			return nil, fmt.Errorf("%s is not a table this source serves (views cannot be tracked)", n)
		}
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("no table to track: the source serves none (views cannot be tracked)")
	}
	return sets, nil
}
