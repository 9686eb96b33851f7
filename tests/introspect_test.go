package tests

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
)

// idp is an identity provider's token introspection endpoint (RFC 7662)
// for the tests: it knows some opaque tokens, and can be made slow or
// broken.
type idp struct {
	srv      *httptest.Server
	clientID string
	secret   string
	calls    atomic.Int64
	delay    atomic.Int64 // nanoseconds each answer waits
	broken   atomic.Bool  // answer 500
	mu       sync.Mutex
	tokens   map[string]map[string]any
}

func newIDP(t *testing.T) *idp {
	p := &idp{clientID: "odatagw-gateway", secret: "idp-secret-" + randomHex(8), tokens: map[string]map[string]any{}}
	recordSecret(t, p.secret)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		time.Sleep(time.Duration(p.delay.Load()))
		if p.broken.Load() {
			http.Error(w, "down for maintenance", 500)
			return
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != p.clientID || secret != p.secret {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		p.mu.Lock()
		claims, ok := p.tokens[r.PostForm.Get("token")]
		p.mu.Unlock()
		if !ok {
			claims = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(claims)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// issue makes an opaque token the provider calls active, for sub.
func (p *idp) issue(t *testing.T, sub string, mods ...func(map[string]any)) string {
	tok := "opaque-" + randomHex(16)
	recordSecret(t, tok)
	c := map[string]any{"active": true, "sub": sub, "aud": []string{"https://odata.example.com", "other"},
		"iss": "https://idp.example.com", "exp": time.Now().Add(time.Hour).Unix(), "scope": "api"}
	for _, m := range mods {
		m(c)
	}
	p.mu.Lock()
	p.tokens[tok] = c
	p.mu.Unlock()
	return tok
}

// TestTokenIntrospection: Salesforce's OAuth 2.0 authentication sends the
// provider's access token; opaque ones are checked with the provider.
func TestTokenIntrospection(t *testing.T) {
	needPostgres(t)
	p := newIDP(t)
	logs := &syncBuffer{}
	t.Setenv("ODATAGW_TEST_IDP_SECRET", p.secret)
	g := startGateway(t, app.Settings{Defaults: uncached(),
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs, logFile(t)), nil)),
		Sources: map[string]config.Source{"erp": {DSN: pgDB.DSN, Auth: config.Auth{Readers: []string{"sf-user"},
			Bearer: &config.Bearer{IntrospectionURL: p.srv.URL, ClientID: p.clientID, ClientSecretEnv: "ODATAGW_TEST_IDP_SECRET",
				Issuer: "https://idp.example.com", Audience: "https://odata.example.com"}}}}})
	url := g.root("erp") + "Customers?$top=1"
	get := func(tok string) response { return do(t, "GET", url, nil, "Authorization", "Bearer "+tok) }

	good := p.issue(t, "sf-user")
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"an active token", good, 200},
		{"an active token of another user (not a reader)", p.issue(t, "someone-else"), 403},
		{"an inactive token", "opaque-unknown-" + randomHex(8), 401},
		{"an active token past its exp", p.issue(t, "sf-user", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401},
		{"another audience", p.issue(t, "sf-user", func(c map[string]any) { c["aud"] = "https://elsewhere" }), 401},
		{"another issuer", p.issue(t, "sf-user", func(c map[string]any) { c["iss"] = "https://evil.example.com" }), 401},
		{"no subject", p.issue(t, "", func(c map[string]any) { delete(c, "sub") }), 401},
		{"a username instead of sub", p.issue(t, "", func(c map[string]any) { delete(c, "sub"); c["username"] = "sf-user" }), 200},
	}
	for _, c := range cases {
		r := get(c.token)
		if r.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.Status, c.status, r.Body)
		}
		if r.Status == 401 && !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without a Bearer challenge", c.name)
		}
	}

	// answers are remembered: an active token until its exp (at most 30 s),
	// an inactive one briefly
	before := p.calls.Load()
	get(good)
	get(cases[2].token)
	if n := p.calls.Load() - before; n != 0 {
		t.Errorf("%d introspection calls for tokens checked a moment ago", n)
	}

	// requests arriving together with a new token make one call, even
	// when the provider is slow
	p.delay.Store(int64(300 * time.Millisecond))
	fresh := p.issue(t, "sf-user")
	before = p.calls.Load()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if get(fresh).Status == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 8 || p.calls.Load()-before != 1 {
		t.Errorf("8 requests with one new token: %d answered, %d introspection calls", ok.Load(), p.calls.Load()-before)
	}
	p.delay.Store(0)

	// a provider that is down: 503 with Retry-After, not 401, and one log line
	p.broken.Store(true)
	for i := 0; i < 3; i++ {
		r := get(p.issue(t, "sf-user"))
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || errorCode(t, r) != "SourceUnavailable" {
			t.Fatalf("while the provider is down: %d %v %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if n := strings.Count(logs.String(), "token introspection endpoint fails"); n != 1 {
		t.Errorf("the failing endpoint was logged %d times, want once:\n%s", n, logs.String())
	}
	if r := get(good); r.Status != 200 {
		t.Errorf("a token checked before the outage: %d", r.Status)
	}
	p.broken.Store(false)
	if r := get(p.issue(t, "sf-user")); r.Status != 200 {
		t.Errorf("after the provider is back: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Error("the recovery is not logged")
	}
	if strings.Contains(logs.String(), p.secret) || strings.Contains(logs.String(), good) {
		t.Error("the log holds the client secret or a token")
	}
}

// TestTokenIntrospectionWrongClient: with client credentials the provider
// refuses, no token can be checked: 503, never 200 or 401.
func TestTokenIntrospectionWrongClient(t *testing.T) {
	needPostgres(t)
	p := newIDP(t)
	g := startGateway(t, app.Settings{Defaults: uncached(),
		Sources: map[string]config.Source{"erp": {DSN: pgDB.DSN, Auth: config.Auth{
			Bearer: &config.Bearer{IntrospectionURL: p.srv.URL, ClientID: p.clientID, ClientSecret: "not-the-secret"}}}}})
	r := do(t, "GET", g.root("erp")+"Customers?$top=1", nil, "Authorization", "Bearer "+p.issue(t, "sf-user"))
	if r.Status != 503 {
		t.Fatalf("with wrong client credentials: %d %s", r.Status, r.Body)
	}
}
