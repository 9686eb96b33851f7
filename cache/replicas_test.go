package cache

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/odatagw/odatagw/internal/replicas"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestClosedSourceLeavesTheBus: a source replaced at run time must stop
// listening to the replicas' invalidations, or every change of a
// registration would keep another cache alive for the process's life.
func TestClosedSourceLeavesTheBus(t *testing.T) {
	url := testdb.RedisURL(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	redisBus, err := replicas.NewRedisBus(url, testdb.RedisPrefix(t, url), log)
	if err != nil {
		t.Fatal(err)
	}
	defer redisBus.Close()
	bus := &countingBus{Bus: redisBus}
	open := func() *Answers {
		return New(Options{Name: "demo", TTL: DefaultTTL, Bus: bus, Logger: log})
	}
	a, b := open(), open()
	count := func() int { return int(bus.subscribed.Load()) }
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

// countingBus is the real bus, counting the subscriptions not yet ended.
type countingBus struct {
	replicas.Bus
	subscribed atomic.Int32
}

func (c *countingBus) Subscribe(fn func(replicas.Message)) func() {
	c.subscribed.Add(1)
	unsubscribe := c.Bus.Subscribe(fn)
	var once sync.Once
	return func() { once.Do(func() { c.subscribed.Add(-1); unsubscribe() }) }
}
