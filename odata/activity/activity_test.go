package activity

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestTrafficSeries: figures land in their ten-second bucket, per set and
// for the whole source, and old buckets fall out of the hour.
func TestTrafficSeries(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 55, 0, time.UTC)
	tr := NewTraffic()
	tr.now = func() time.Time { return now }
	for i := 0; i < 100; i++ {
		tr.Record("erp", "Customers", 200, time.Duration(i+1)*time.Millisecond, "hit", 2) // 1..100 ms
	}
	tr.Record("erp", "Customers", 503, 4*time.Millisecond, "miss", 0)
	tr.Record("erp", "Orders", 200, 20*time.Millisecond, "", 5)
	tr.Record("crm", "Accounts", 200, time.Millisecond, "", 1)
	tr.Record("erp", "", 404, time.Millisecond, "", 0) // $metadata, an unknown set: not the whole's name

	series := tr.Series("erp")
	if len(series) != 4 || series[0].Set != "" || series[1].Set != "Customers" || series[2].Set != "Orders" || series[3].Set != OtherSet {
		t.Fatalf("series: %+v", series)
	}
	cust := series[1]
	last := cust.Points[len(cust.Points)-1]
	if len(cust.Points) != buckets || !last.Time.Equal(time.Date(2026, 1, 2, 3, 4, 50, 0, time.UTC)) {
		t.Fatalf("%d points, the last at %v", len(cust.Points), last.Time)
	}
	if last.Requests != 101 || last.Errors != 1 || last.Rows != 200 || last.RequestsPerS != 10.1 {
		t.Errorf("last bucket: %+v", last)
	}
	if r := *last.CacheHitRatio; r < 0.99 || r > 0.991 {
		t.Errorf("hit ratio %v, want 100/101", r)
	}
	// p50 of 1..100 ms (and one 4 ms) lies in the 50 ms bin; p95 in the 100 ms bin
	if *last.P50 != 50 || *last.P95 != 100 {
		t.Errorf("p50 %v, p95 %v", *last.P50, *last.P95)
	}
	if series[0].Total.Requests != 103 || series[2].Total.CacheHitRatio != nil {
		t.Errorf("whole source %d requests; Orders hit ratio %v", series[0].Total.Requests, series[2].Total.CacheHitRatio)
	}
	if p := series[1].Points[0]; p.Requests != 0 || p.P50 != nil {
		t.Errorf("an empty bucket: %+v", p)
	}
	// an hour later the figures are gone
	now = now.Add(Span)
	if got := tr.Series("erp")[1].Total.Requests; got != 0 {
		t.Errorf("%d requests an hour later", got)
	}
}

// TestAuditKeepsTheLatest: the ring keeps the newest records, filtered.
func TestAuditKeepsTheLatest(t *testing.T) {
	s := NewAudit(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < auditKept+10; i++ {
		event, user := "write", "a"
		if i%2 == 1 {
			event, user = "auth_failure", "b"
		}
		s.recent.add(AuditRecord{Event: event, User: user, Source: "erp", Status: i})
	}
	all := s.Recent("", "", "", 5)
	if len(all) != 5 || all[0].Status != auditKept+9 || all[4].Status != auditKept+5 {
		t.Fatalf("newest first: %+v", all)
	}
	if got := s.Recent("erp", "b", "auth_failure", 3); len(got) != 3 || got[0].User != "b" || got[0].Status != auditKept+9 {
		t.Errorf("filtered: %+v", got)
	}
	if got := s.Recent("crm", "", "", 10); len(got) != 0 {
		t.Errorf("another source: %+v", got)
	}
	if got := s.Recent("", "", "", 5000); len(got) != auditKept {
		t.Errorf("kept %d, want %d", len(got), auditKept)
	}
}
