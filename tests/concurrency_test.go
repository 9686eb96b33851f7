package tests

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odatagw/odatagw/odata/server"
)

// TestConcurrentCountsDoNotStarveThePool: a list view with $count=true
// needs two connections at once. Far more such requests than the pool has
// connections must all succeed, and soon: none may hold one connection
// while waiting for a second that others hold.
func TestConcurrentCountsDoNotStarveThePool(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			const clients, each = 48, 5
			url := tg.root + encodeQuery("Customers?$select=CustomerId,Name&$count=true&$top=26")
			start := time.Now()
			var wg sync.WaitGroup
			var answered atomic.Int64
			failures := make(chan string, clients*each)
			client := &http.Client{Timeout: 20 * time.Second}
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						res, err := client.Get(url)
						if err != nil {
							failures <- err.Error()
							return
						}
						res.Body.Close()
						if res.StatusCode != 200 {
							failures <- res.Status
							continue
						}
						answered.Add(1)
					}
				}()
			}
			wg.Wait()
			close(failures)
			took := time.Since(start)
			for f := range failures {
				t.Fatalf("request failed: %s", f)
			}
			if n := answered.Load(); n != clients*each {
				t.Fatalf("%d of %d requests answered", n, clients*each)
			}
			// not a performance figure: a request that held one connection
			// while waiting for a second would wait out the queue timeout
			if took >= server.QueueTimeout {
				t.Fatalf("%d requests took %v, past the %v a starved request waits in line", clients*each, took, server.QueueTimeout)
			}
			t.Logf("%d requests by %d clients in %v", clients*each, clients, took.Round(time.Millisecond))
		})
	}
}
