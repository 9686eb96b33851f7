package activity

import (
	"log/slog"
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

// Audit keeps the audit records: each goes to the audit log (the log
// keeps every one), and the latest stay in memory for the admin page.
type Audit struct {
	log    *slog.Logger
	recent recentAudit
}

// NewAudit writes the records to log.
func NewAudit(log *slog.Logger) *Audit { return &Audit{log: log} }

// Refused records a refused credential: who it claimed to be (for
// Basic), never the secret; path is the request's.
func (a *Audit) Refused(r AuditRecord, path string) {
	r.Event = "auth_failure"
	a.log.Warn("audit", "event", r.Event, "source", r.Source, "client", r.Client, "scheme", r.Auth,
		"claimed_user", r.User, "method", r.Method, "path", path)
	a.recent.add(r)
}

// Wrote records a change: who, what set and key, and its outcome.
func (a *Audit) Wrote(r AuditRecord) {
	r.Event = "write"
	a.log.Info("audit", "event", r.Event, "source", r.Source, "set", r.Set, "key", r.Key, "method", r.Method,
		"user", r.User, "auth", r.Auth, "client", r.Client, "status", r.Status)
	a.recent.add(r)
}

// Recent lists the latest records, newest first, of a source, a user
// and an event when given ("": every one), at most limit.
func (a *Audit) Recent(source, user, event string, limit int) []AuditRecord {
	ra := &a.recent
	ra.mu.Lock()
	defer ra.mu.Unlock()
	out := []AuditRecord{}
	n := ra.next
	if ra.full {
		n = auditKept
	}
	for i := 0; i < n && len(out) < limit; i++ {
		r := ra.ring[(ra.next-1-i+auditKept)%auditKept]
		if (source == "" || r.Source == source) && (user == "" || r.User == user) && (event == "" || r.Event == event) {
			out = append(out, r)
		}
	}
	return out
}
