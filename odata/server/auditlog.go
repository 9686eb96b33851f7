package server

import (
	"sync"
	"time"
)

// AuditRecord is one write or refused credential, as the admin page lists
// them (the audit log has the same, and keeps every one).
type AuditRecord struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"` // "write" or "auth_failure"
	Source string    `json:"source"`
	Set    string    `json:"set,omitempty"`
	Key    string    `json:"key,omitempty"`
	Method string    `json:"method"`
	User   string    `json:"user,omitempty"` // for a refused credential, the user it claimed
	Auth   string    `json:"auth,omitempty"` // how the caller signed in, or the scheme refused
	Client string    `json:"client"`
	Status int       `json:"status,omitempty"`
}

// recentAudit keeps the latest records in memory, for the admin page.
type recentAudit struct {
	mu   sync.Mutex
	ring []AuditRecord
	next int
	full bool
}

// auditKept is how many of the latest records the admin page can list.
const auditKept = 1000

func (a *recentAudit) add(r AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ring == nil {
		a.ring = make([]AuditRecord, auditKept)
	}
	a.ring[a.next] = r
	a.next = (a.next + 1) % auditKept
	a.full = a.full || a.next == 0
}

// Audit lists the latest records, newest first, of a source and a user
// when given ("" : every one), at most limit.
func (s *Server) Audit(source, user, event string, limit int) []AuditRecord {
	a := &s.recent
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []AuditRecord{}
	n := a.next
	if a.full {
		n = auditKept
	}
	for i := 0; i < n && len(out) < limit; i++ {
		r := a.ring[(a.next-1-i+auditKept)%auditKept]
		if (source == "" || r.Source == source) && (user == "" || r.User == user) && (event == "" || r.Event == event) {
			out = append(out, r)
		}
	}
	return out
}

// Traffic is the last hour of a source's traffic.
func (s *Server) Traffic(source string) []TrafficSeries { return s.traffic.Series(source) }
