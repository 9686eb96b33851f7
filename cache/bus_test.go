package cache

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

// TestClosedSourceLeavesTheBus: a source replaced at run time must stop
// listening to the replicas' invalidations, or every change of a
// registration would keep another cache alive for the process's life.
func TestClosedSourceLeavesTheBus(t *testing.T) {
	url := testdb.RedisURL(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := NewRedisBus(url, "odatagw_test_bus_"+t.Name(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	open := func() *Source {
		src, err := demo.Open(context.Background(), sources.Options{Name: "demo"})
		if err != nil {
			t.Fatal(err)
		}
		return Wrap(src, Options{Name: "demo", TTL: DefaultTTL, Bus: bus, Logger: log})
	}
	a, b := open(), open()
	count := func() int {
		bus.mu.Lock()
		defer bus.mu.Unlock()
		return len(bus.handlers)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	a.Close()
	if n := count(); n != 1 {
		t.Fatalf("after closing one source: %d subscribers, want 1", n)
	}
	b.Close()
	if n := count(); n != 0 {
		t.Fatalf("after closing both: %d subscribers", n)
	}
}
