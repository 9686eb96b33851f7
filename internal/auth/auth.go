// Package auth decides who is calling a data source and what they may do:
// it checks the credentials Salesforce can present (HTTP Basic against the
// gateway's users, API tokens in a custom header, JWT bearer tokens), lets
// anonymous callers in only where a source allows it, answers whether a
// caller may read or write an entity set, and names the database role a
// caller runs as.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/odatagw/odatagw/sources"
)

// Principal is an authenticated caller.
type Principal struct {
	User   string
	Method string // basic, token, bearer, anonymous
	Role   string // database role, for per-user access
	Claims map[string]any
}

// Account is whom a password or an API token belongs to.
type Account struct {
	Name string
	Role string // database role, for per-user access; "" for none
}

// Users is where Basic and token credentials are checked (the gateway's
// user store, joined to it where the gateway is put together).
type Users interface {
	CheckPassword(ctx context.Context, name, password string) (Account, bool, error)
	CheckToken(ctx context.Context, token string) (Account, bool, error)
}

// ErrUnauthorized is every authentication failure: the answer never says
// which part was wrong.
var ErrUnauthorized = errors.New("authentication required: the credentials are missing or not accepted")

// Shared is what every source's guard shares: the users and the
// credentials already checked.
type Shared struct {
	Users  Users // nil: no state store, so no users
	Logger *slog.Logger

	mu       sync.Mutex
	verified map[[32]byte]verifiedEntry

	// checks runs one check per credential at a time: sixteen requests
	// arriving together with one new password cost one bcrypt, not
	// sixteen. hashing bounds the bcrypt checks running at once to half
	// the cores, so a flood of wrong passwords cannot take every CPU from
	// the requests that carry right ones.
	checks  singleflight.Group
	hashing chan struct{}
}

type verifiedEntry struct {
	p       Principal
	expires time.Time
	refused bool // a token the identity provider said is not active
}

// RefusedTTL is how long a token the identity provider called inactive is
// refused without asking again: long enough to spare it a burst of
// requests, short enough that a token activated late is soon accepted.
const RefusedTTL = 5 * time.Second

// VerifiedTTL is how long a checked password or token is trusted without
// checking again: bcrypt costs tens of milliseconds, and Salesforce sends
// the credential with every request. A removed user or changed password
// takes effect at once on the gateway that made the change (Forget) and
// within this time on the others.
const VerifiedTTL = 30 * time.Second

// NewShared returns the state every guard of a gateway shares.
func NewShared(users Users, log *slog.Logger) *Shared {
	if log == nil {
		log = slog.Default()
	}
	return &Shared{Users: users, Logger: log, verified: map[[32]byte]verifiedEntry{},
		hashing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

// Forget drops every checked credential, after a user changed.
func (s *Shared) Forget() {
	s.mu.Lock()
	clear(s.verified)
	s.mu.Unlock()
}

// refuse remembers a refused token for RefusedTTL.
func (s *Shared) refuse(k [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.verified) > 10000 {
		clear(s.verified)
	}
	s.verified[k] = verifiedEntry{refused: true, expires: time.Now().Add(RefusedTTL)}
}

func (s *Shared) refusedLately(k [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.verified[k]
	return ok && e.refused && time.Now().Before(e.expires)
}

func (s *Shared) remembered(k [32]byte) (Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.verified[k]
	if ok && e.refused {
		return Principal{}, false
	}
	if !ok || time.Now().After(e.expires) {
		delete(s.verified, k)
		return Principal{}, false
	}
	return e.p, true
}

func (s *Shared) remember(k [32]byte, p Principal, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.verified) > 10000 { // bounded: drop all rather than grow
		clear(s.verified)
	}
	if max := time.Now().Add(VerifiedTTL); until.IsZero() || until.After(max) {
		until = max
	}
	s.verified[k] = verifiedEntry{p: p, expires: until}
}

// credentialKey names a checked credential in memory without keeping it.
func credentialKey(kind, user, secret string) [32]byte {
	return sha256.Sum256([]byte("odatagw credential\x00" + kind + "\x00" + user + "\x00" + secret))
}

// Guard enforces one source's policy.
type Guard struct {
	source string
	policy Policy
	shared *Shared
	bearer *bearer
	stop   context.CancelFunc
}

// NewGuard prepares a source's policy: it checks the policy and, for
// bearer tokens, loads the key or starts following the JWKS URL.
func NewGuard(source string, p Policy, shared *Shared) (*Guard, error) {
	ctx, stop := context.WithCancel(context.Background())
	g := &Guard{source: source, policy: p, shared: shared, stop: stop}
	if (p.Basic || p.TokenHeader != "") && shared.Users == nil {
		stop()
		return nil, errors.New("basic and token_header need the gateway's users, kept in the state store (--state)")
	}
	if p.TokenHeader != "" && http.CanonicalHeaderKey(p.TokenHeader) == "Authorization" {
		stop()
		return nil, errors.New("token_header must be a custom header, not Authorization")
	}
	if p.Bearer != nil {
		b, err := newBearer(ctx, *p.Bearer, shared.Logger)
		if err != nil {
			stop()
			return nil, err
		}
		g.bearer = b
	}
	return g, nil
}

// Close stops following a JWKS URL.
func (g *Guard) Close() { g.stop() }

// Policy is the policy the guard enforces.
func (g *Guard) Policy() Policy { return g.policy }

// Challenge is the WWW-Authenticate value of a 401: the schemes this
// source accepts.
func (g *Guard) Challenge() string {
	realm := `realm="odatagw ` + g.source + `"`
	var c []string
	if g.policy.Basic {
		c = append(c, `Basic `+realm+`, charset="UTF-8"`)
	}
	if g.bearer != nil {
		c = append(c, `Bearer `+realm)
	}
	if g.policy.TokenHeader != "" {
		// a token header has no registered scheme; say where it goes
		c = append(c, `ApiKey `+realm+`, header="`+g.policy.TokenHeader+`"`)
	}
	if len(c) == 0 {
		// nothing is accepted yet (see Unconfigured): Basic is the scheme
		// every client and Salesforce's Named Credentials can answer
		// once users are added
		c = append(c, `Basic `+realm+`, charset="UTF-8"`)
	}
	return strings.Join(c, ", ")
}

// Unconfigured reports whether the source accepts no credential at all:
// no Basic, no token header, no bearer tokens and no anonymous callers,
// so every request is refused until its auth section names one.
func (g *Guard) Unconfigured() bool {
	return !g.policy.Anonymous && !g.policy.Basic && g.policy.TokenHeader == "" && g.bearer == nil
}

// Authenticate finds the caller of r. Credentials of a kind the source
// does not accept are ignored; a credential it accepts must be right.
func (g *Guard) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	authz := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(authz, " ")
	switch {
	case g.policy.Basic && strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, ErrUnauthorized
		}
		return g.checkPassword(ctx, user, pass)
	case g.bearer != nil && strings.EqualFold(scheme, "Bearer"):
		return g.checkBearer(ctx, strings.TrimSpace(value))
	}
	if h := g.policy.TokenHeader; h != "" {
		if tok := strings.TrimSpace(r.Header.Get(h)); tok != "" {
			return g.checkToken(ctx, tok)
		}
	}
	if g.policy.Anonymous {
		return anonymous, nil
	}
	return nil, ErrUnauthorized
}

// anonymous is every anonymous caller: one value, never changed, so that
// letting one in allocates nothing.
var anonymous = &Principal{Method: "anonymous"}

// checkBearer verifies a token once and trusts it until it expires (at
// most VerifiedTTL): a signature check costs more than the rest of a
// cached answer. The key includes the source, whose issuer and audience
// the token was checked against.
func (g *Guard) checkBearer(ctx context.Context, token string) (*Principal, error) {
	k := credentialKey("bearer", g.source, token)
	if p, ok := g.shared.remembered(k); ok {
		return &p, nil
	}
	if g.shared.refusedLately(k) {
		return nil, ErrUnauthorized
	}
	// requests arriving together with one token share one check: an
	// introspection is a round trip to the identity provider
	v, err, _ := g.shared.checks.Do(string(k[:]), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		p, exp, err := g.bearer.check(ctx, token, g.policy.RoleClaim)
		if errors.Is(err, ErrUnauthorized) && g.bearer.introspect != nil {
			g.shared.refuse(k) // an inactive token is not asked about again at once
		}
		if err != nil {
			return nil, err
		}
		g.shared.remember(k, *p, exp)
		return *p, nil
	})
	if err != nil {
		return nil, err
	}
	p := v.(Principal)
	return &p, nil
}

func (g *Guard) checkPassword(ctx context.Context, user, pass string) (*Principal, error) {
	k := credentialKey("basic", user, pass)
	if p, ok := g.shared.remembered(k); ok {
		return &p, nil
	}
	v, err, _ := g.shared.checks.Do(string(k[:]), func() (any, error) {
		// the check serves every request waiting for it: the first one
		// leaving must not fail the others
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		select {
		case g.shared.hashing <- struct{}{}:
			defer func() { <-g.shared.hashing }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		u, ok, err := g.shared.Users.CheckPassword(ctx, user, pass)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrUnauthorized
		}
		p := Principal{User: u.Name, Method: "basic", Role: u.Role}
		g.shared.remember(k, p, time.Time{})
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	p := v.(Principal)
	return &p, nil
}

func (g *Guard) checkToken(ctx context.Context, tok string) (*Principal, error) {
	k := credentialKey("token", "", tok)
	if p, ok := g.shared.remembered(k); ok {
		return &p, nil
	}
	u, ok, err := g.shared.Users.CheckToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrUnauthorized
	}
	p := Principal{User: u.Name, Method: "token", Role: u.Role}
	g.shared.remember(k, p, time.Time{})
	return &p, nil
}

// allowed reports whether user is on a list; an empty list is nobody
// but "*" is every authenticated caller.
func allowed(list []string, p *Principal) bool {
	for _, n := range list {
		if n == "*" && p.Method != "anonymous" {
			return true
		}
		if n == p.User && p.User != "" {
			return true
		}
	}
	return false
}

func (g *Guard) lists(set string) (readers, writers []string) {
	readers, writers = g.policy.Readers, g.policy.Writers
	if a, ok := g.policy.Sets[set]; ok {
		if a.Readers != nil {
			readers = a.Readers
		}
		if a.Writers != nil {
			writers = a.Writers
		}
	}
	return readers, writers
}

// MayRead reports whether p may read set ("" for the service document and
// $metadata, which every caller let in may read).
func (g *Guard) MayRead(p *Principal, set string) bool {
	readers, _ := g.lists(set)
	if set == "" || readers == nil {
		return true
	}
	return allowed(readers, p)
}

// MayWrite reports whether p may change set. Without a Writers list the
// readers may write (the database's own grants still apply).
func (g *Guard) MayWrite(p *Principal, set string) bool {
	readers, writers := g.lists(set)
	if writers == nil {
		return readers == nil || allowed(readers, p)
	}
	return allowed(writers, p)
}

// Caller is what the source must act as for p, when the policy runs each
// caller as its own database role. ok is false when the policy does not.
func (g *Guard) Caller(p *Principal) (c sources.Caller, ok bool, err error) {
	if !g.policy.PerUser {
		return c, false, nil
	}
	if p.Role == "" {
		return c, true, errors.New("no database role is mapped to this user; an admin sets one with odatagw user update NAME --role ROLE (or the token's role claim)")
	}
	claims := map[string]any{}
	for k, v := range p.Claims {
		claims[k] = v
	}
	claims["sub"] = p.User
	claims["role"] = p.Role
	b, _ := json.Marshal(claims)
	return sources.Caller{User: p.User, Role: p.Role, Claims: string(b)}, true, nil
}

// Names the users a policy mentions, for checks at start.
func (g *Guard) Names() []string {
	var n []string
	n = append(n, g.policy.Readers...)
	n = append(n, g.policy.Writers...)
	for _, a := range g.policy.Sets {
		n = append(n, a.Readers...)
		n = append(n, a.Writers...)
	}
	slices.Sort(n)
	return slices.Compact(n)
}
