package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

type countingAdvisor struct{ calls atomic.Int32 }

func (c *countingAdvisor) AdviseIndexes(context.Context) ([]metadata.IndexAdvice, error) {
	c.calls.Add(1)
	return []metadata.IndexAdvice{{Set: "events", Column: "note", Rows: 200_000}, {Set: "tiny", Column: "x", Rows: 20}}, nil
}

// TestAdviceOncePerModel: requests that time out together ask the
// database for its index advice once per model, not once each (the
// database is timing out already), and only worthwhile advice is named.
func TestAdviceOncePerModel(t *testing.T) {
	var c adviceCache
	a := &countingAdvisor{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := c.of("erp\x00v1", a); len(got) != 1 || got[0].Set != "events" {
				t.Errorf("advice %v", got)
			}
		}()
	}
	wg.Wait()
	if n := a.calls.Load(); n != 1 {
		t.Errorf("50 timeouts asked for the advice %d times", n)
	}
	c.of("erp\x00v2", a) // a new model asks again
	if n := a.calls.Load(); n != 2 {
		t.Errorf("a new model: %d calls", n)
	}
}
