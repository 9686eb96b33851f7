package sources

import "context"

// Caller is who a request runs for, where the source must act as that
// person: PostgreSQL assumes Role for the transaction and exposes User and
// Claims to row-level security policies. A request without a Caller runs
// as the gateway's own database user.
type Caller struct {
	User   string
	Role   string // database role to assume
	Claims string // JSON object, for current_setting('request.jwt.claims')
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller ctx carries, if any.
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok && c.Role != ""
}

// Scope is what must tell cached answers apart between callers: two
// callers see the same rows only if they are the same user in the same
// role.
func (c Caller) Scope() string { return c.Role + "\x00" + c.User }

// CallerAware is implemented by sources that can act as each caller
// (PostgreSQL, through roles and row-level security).
type CallerAware interface {
	ActsAsCaller() bool
}
