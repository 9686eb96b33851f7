package replicas

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testdb"
)

// TestReplicasTellEachOther: over one Redis, what a replica publishes
// reaches the others and not itself; generations are shared; the command
// line's flush reaches every replica, and says so when none listens.
func TestReplicasTellEachOther(t *testing.T) {
	url := testdb.RedisURL(t)
	prefix := testdb.RedisPrefix(t, url)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() (*RedisBus, chan Message) {
		b, err := NewRedisBus(url, prefix, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		got := make(chan Message, 16)
		b.Subscribe(func(m Message) { got <- m })
		deadline := time.Now().Add(10 * time.Second)
		for !b.Subscribed() {
			if time.Now().After(deadline) {
				t.Fatal("not subscribed within 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return b, got
	}
	a, fromA := open()
	b, fromB := open()
	ctx := context.Background()

	receive := func(ch chan Message, what string) Message {
		t.Helper()
		select {
		case m := <-ch:
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing arrived in 5 s", what)
			return Message{}
		}
	}
	for _, m := range []Message{
		{Kind: KindInvalidate, Source: "erp", Set: "Orders"},
		{Kind: KindReload, Source: "erp"},
		{Kind: KindRegistry},
	} {
		a.Publish(m)
		if got := receive(fromB, "the other replica"); got != m {
			t.Errorf("sent %+v, the other replica got %+v", m, got)
		}
	}
	select {
	case m := <-fromA:
		t.Errorf("a replica heard itself: %+v", m)
	case <-time.After(200 * time.Millisecond):
	}

	// generations: shared, 0 before any write
	if g, err := b.Generation(ctx, "erp", "Orders"); err != nil || g != 0 {
		t.Fatalf("generation before a write: %d %v", g, err)
	}
	if err := a.Advance(ctx, "erp", "Orders"); err != nil {
		t.Fatal(err)
	}
	if g, err := b.Generation(ctx, "erp", "Orders"); err != nil || g != 1 {
		t.Errorf("generation after a write on the other replica: %d %v", g, err)
	}

	// odatagw cache flush: every replica hears it
	if err := PublishFlush(ctx, url, prefix, "erp", ""); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan Message{fromA, fromB} {
		if got := receive(ch, "the flush"); got != (Message{Source: "erp"}) {
			t.Errorf("the flush arrived as %+v", got)
		}
	}
	if err := PublishFlush(ctx, url, prefix+"_nobody", "", ""); err == nil {
		t.Error("a flush no gateway hears says nothing")
	}
	if a.Err() != nil || b.Err() != nil {
		t.Errorf("errors: %v, %v", a.Err(), b.Err())
	}
}
