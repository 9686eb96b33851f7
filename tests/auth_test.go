package tests

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// jwksServer serves a JWKS whose keys a test can rotate.
type jwksServer struct {
	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey
	srv  *httptest.Server
}

func newJWKS(t *testing.T) *jwksServer {
	j := &jwksServer{keys: map[string]*rsa.PrivateKey{}}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		var keys []map[string]string
		for kid, k := range j.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (j *jwksServer) publish(kid string, k *rsa.PrivateKey) {
	j.mu.Lock()
	j.keys = map[string]*rsa.PrivateKey{kid: k} // rotation: the old key is gone
	j.mu.Unlock()
}

func signJWT(t *testing.T, kid string, key any, method jwt.SigningMethod, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	testIssuer   = "https://login.example.com"
	testAudience = "odatagw-erp"
)

func claims(sub string, mods ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": sub,
		"exp": time.Now().Add(10 * time.Minute).Unix(), "nbf": time.Now().Add(-time.Minute).Unix()}
	for _, m := range mods {
		m(c)
	}
	return c
}

// TestCredentials accepts and refuses each kind of credential Salesforce
// can present, and checks that a refusal never says which part was wrong.
func TestCredentials(t *testing.T) {
	needPostgres(t)
	db := newFixtureDB(t)
	jwks := newJWKS(t)
	k1 := rsaKey(t)
	jwks.publish("k1", k1)
	policy := config.Auth{Basic: true, TokenHeader: "X-Api-Key",
		Bearer: &config.Bearer{JWKSURL: jwks.srv.URL, Issuer: testIssuer, Audience: testAudience}}
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", map[string]config.Source{
		"erp":    {DSN: db.DSN, Auth: policy},
		"open":   {DSN: db.DSN, Auth: config.Auth{Anonymous: true}},
		"closed": {DSN: db.DSN},
	})
	alicePassword := "alice-pw-" + randomHex(8)
	if r := ag.api(t, "POST", "/api/users", map[string]any{"name": "alice", "password": alicePassword}); r.Status != 201 {
		t.Fatalf("add alice: %d %s", r.Status, r.Body)
	}
	tr := ag.api(t, "POST", "/api/users", map[string]any{"name": "robot", "kind": "token"})
	var robot struct{ Token string }
	json.Unmarshal(tr.Body, &robot)
	recordSecret(t, alicePassword, robot.Token)
	if tr.Status != 201 || !strings.HasPrefix(robot.Token, "odgw_") {
		t.Fatalf("add robot: %d %s", tr.Status, tr.Body)
	}
	if list := ag.api(t, "GET", "/api/users", nil); strings.Contains(string(list.Body), robot.Token) || strings.Contains(string(list.Body), "hash") {
		t.Fatalf("the user list shows a secret: %s", list.Body)
	}
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	otherKey := rsaKey(t)
	url := ag.odata + "/odata/erp/Customers?$top=1"
	refusals := map[string]string{}
	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"no credential", nil, 401},
		{"basic", []string{"Authorization", basic("alice", alicePassword)}, 200},
		{"basic, wrong password", []string{"Authorization", basic("alice", alicePassword+"x")}, 401},
		{"basic, unknown user", []string{"Authorization", basic("mallory", alicePassword)}, 401},
		{"basic, token user's token as password", []string{"Authorization", basic("robot", robot.Token)}, 401},
		{"api token", []string{"X-Api-Key", robot.Token}, 200},
		{"api token, wrong", []string{"X-Api-Key", robot.Token + "x"}, 401},
		{"api token in the wrong header", []string{"X-Other-Key", robot.Token}, 401},
		{"jwt", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("sf-user-1"))}, 200},
		{"jwt, expired", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("u", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }))}, 401},
		{"jwt, no expiry", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("u", func(c jwt.MapClaims) { delete(c, "exp") }))}, 401},
		{"jwt, not yet valid", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("u", func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }))}, 401},
		{"jwt, wrong audience", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("u", func(c jwt.MapClaims) { c["aud"] = "another-app" }))}, 401},
		{"jwt, wrong issuer", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims("u", func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }))}, 401},
		{"jwt, wrong signature", []string{"Authorization", "Bearer " + signJWT(t, "k1", otherKey, jwt.SigningMethodRS256, claims("u"))}, 401},
		{"jwt, alg none", []string{"Authorization", "Bearer " + signJWT(t, "k1", jwt.UnsafeAllowNoneSignatureType, jwt.SigningMethodNone, claims("u"))}, 401},
		{"jwt, HMAC with the public key", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1.PublicKey.N.Bytes(), jwt.SigningMethodHS256, claims("u"))}, 401},
		{"jwt, no subject", []string{"Authorization", "Bearer " + signJWT(t, "k1", k1, jwt.SigningMethodRS256, claims(""))}, 401},
		{"garbage bearer", []string{"Authorization", "Bearer not.a.token"}, 401},
	}
	for _, c := range cases {
		if len(c.header) == 2 {
			recordSecret(t, strings.TrimPrefix(strings.TrimPrefix(c.header[1], "Bearer "), "Basic "))
		}
		r := do(t, "GET", url, nil, c.header...)
		if r.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.Status, c.status, r.Body)
			continue
		}
		if c.status == 401 {
			ch := r.Header.Get("WWW-Authenticate")
			if !strings.Contains(ch, `Basic realm="odatagw erp"`) || !strings.Contains(ch, `Bearer realm="odatagw erp"`) || !strings.Contains(ch, `ApiKey realm="odatagw erp", header="X-Api-Key"`) {
				t.Errorf("%s: WWW-Authenticate %q", c.name, ch)
			}
			refusals[c.name] = string(r.Body)
			// a success resets the throttle (tested on its own below), so
			// that the next case is answered at once
			do(t, "GET", url, nil, "X-Api-Key", robot.Token)
		}
	}
	// every refusal reads the same: no hint of which part was wrong
	var first string
	for name, body := range refusals {
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("refusal %q differs: %s vs %s", name, body, first)
		}
	}

	// a rotated key is fetched when a token names it
	k2 := rsaKey(t)
	jwks.publish("k2", k2)
	if r := do(t, "GET", url, nil, "Authorization", "Bearer "+signJWT(t, "k2", k2, jwt.SigningMethodRS256, claims("sf-user-2"))); r.Status != 200 {
		t.Errorf("token signed with the rotated key: %d %s", r.Status, r.Body)
	}

	// anonymous only where allowed
	if r := do(t, "GET", ag.odata+"/odata/open/Customers?$top=1", nil); r.Status != 200 {
		t.Errorf("anonymous on a source that allows it: %d", r.Status)
	}
	// a source with no credentials configured says so, and names a scheme
	// a client can answer once some are
	if r := do(t, "GET", ag.odata+"/odata/closed/Customers?$top=1", nil, "Authorization", basic("alice", alicePassword)); r.Status != 401 ||
		r.Header.Get("WWW-Authenticate") != `Basic realm="odatagw closed", charset="UTF-8"` ||
		!strings.Contains(string(r.Body), "source closed has no credentials configured") || !strings.Contains(string(r.Body), "docs/security.md") {
		t.Errorf("a source with no credentials configured: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}

	// a removed user or rotated token stops working at once
	rot := ag.api(t, "PUT", "/api/users/robot", map[string]any{"rotate_token": true})
	var rotated struct{ Token string }
	json.Unmarshal(rot.Body, &rotated)
	recordSecret(t, rotated.Token)
	if rot.Status != 200 || rotated.Token == "" || rotated.Token == robot.Token {
		t.Fatalf("rotate: %d %s", rot.Status, rot.Body)
	}
	if r := do(t, "GET", url, nil, "X-Api-Key", robot.Token); r.Status != 401 {
		t.Errorf("the old token after rotation: %d", r.Status)
	}
	if r := do(t, "GET", url, nil, "X-Api-Key", rotated.Token); r.Status != 200 {
		t.Errorf("the new token: %d", r.Status)
	}
	if r := ag.api(t, "DELETE", "/api/users/alice", nil); r.Status != 204 {
		t.Fatalf("remove alice: %d", r.Status)
	}
	if r := do(t, "GET", url, nil, "Authorization", basic("alice", alicePassword)); r.Status != 401 {
		t.Errorf("a removed user: %d", r.Status)
	}

	// the audit log names refused callers, never their secrets; and no
	// secret of this test is in any log line or admin answer
	logs := ag.logs.String()
	if !strings.Contains(logs, "event=auth_failure") || !strings.Contains(logs, "claimed_user=mallory") {
		t.Errorf("auth failures are not audited:\n%.2000s", logs)
	}
	for what, secret := range map[string]string{"alice's password": alicePassword, "the first token": robot.Token, "the rotated token": rotated.Token} {
		if strings.Contains(logs, secret) {
			t.Errorf("%s appears in the logs", what)
		}
	}
	if strings.Contains(ag.answers.String(), alicePassword) {
		t.Errorf("alice's password appears in an admin answer")
	}
}

// TestFailedSignInsSlowDown: after three failures from one address, the
// next answers are held back, so a password cannot be guessed quickly.
func TestFailedSignInsSlowDown(t *testing.T) {
	needPostgres(t)
	db := newFixtureDB(t)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", map[string]config.Source{
		"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true}}})
	start := time.Now()
	for i := 0; i < 6; i++ {
		if r := do(t, "GET", ag.odata+"/odata/erp/", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("x:guess"+randomHex(2)))); r.Status != 401 {
			t.Fatalf("guess %d: %d", i, r.Status)
		}
	}
	if held := time.Since(start); held < 700*time.Millisecond {
		t.Errorf("six failed sign-ins took %v; the 4th to 6th should be held 100+200+400 ms", held)
	}
}

func newFixtureDB(t *testing.T) *testdb.Postgres {
	return testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
}

// execQuery reads one value with SQL, around the gateway.
func execQuery(t *testing.T, dsn, sql string, dst any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), sql).Scan(dst); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestAuthorization: readers and writers per source and set answer 403 to
// the others, for plain requests and inside $batch.
func TestAuthorization(t *testing.T) {
	needPostgres(t)
	db := newFixtureDB(t)
	policy := config.Auth{Basic: true, Readers: []string{"*"}, Writers: []string{"alice"},
		Sets: map[string]config.Access{"Suppliers": {Readers: []string{"alice"}}}}
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", map[string]config.Source{"erp": {DSN: db.DSN, Auth: policy}})
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	for _, u := range []string{"alice", "bob"} {
		if r := ag.api(t, "POST", "/api/users", map[string]any{"name": u, "password": pw}); r.Status != 201 {
			t.Fatalf("add %s: %d %s", u, r.Status, r.Body)
		}
	}
	as := func(u string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+pw)), "Content-Type", "application/json"}
	}
	root := ag.odata + "/odata/erp/"
	cases := []struct {
		user, method, path, body string
		status                   int
	}{
		{"bob", "GET", "Customers?$top=1", "", 200},
		{"bob", "GET", "$metadata", "", 200},
		{"bob", "GET", "Suppliers", "", 403},
		{"bob", "GET", "Suppliers/$count", "", 403},
		{"alice", "GET", "Suppliers", "", 200},
		{"bob", "PATCH", "Customers(1)", `{"City":"Bobtown"}`, 403},
		{"bob", "DELETE", "Customers(1)", "", 403},
		{"alice", "PATCH", "Customers(1)", `{"City":"Alicetown"}`, 204},
		{"bob", "POST", "$batch", `{"requests":[{"id":"1","method":"PATCH","url":"Customers(2)","headers":{"Content-Type":"application/json"},"body":{"City":"Batchtown"}}]}`, 200},
	}
	for _, c := range cases {
		r := do(t, c.method, root+c.path, []byte(c.body), as(c.user)...)
		if r.Status != c.status {
			t.Errorf("%s %s %s: %d, want %d: %s", c.user, c.method, c.path, r.Status, c.status, r.Body)
		}
		if c.status == 403 && errorCode(t, r) != "Forbidden" {
			t.Errorf("%s %s %s: code %s", c.user, c.method, c.path, errorCode(t, r))
		}
		if c.path == "$batch" && !strings.Contains(string(r.Body), `"status":403`) {
			t.Errorf("bob's write inside a batch: %s", r.Body)
		}
	}
	var city string
	execQuery(t, db.DSN, `SELECT "City" FROM "Customers" WHERE "CustomerId" = 2`, &city)
	if city == "Batchtown" {
		t.Error("bob's batched write landed")
	}
	logs := ag.logs.String()
	if !strings.Contains(logs, "event=write") || !strings.Contains(logs, "user=alice") || !strings.Contains(logs, "key=1") {
		t.Errorf("alice's write is not audited:\n%.3000s", logs)
	}
}

// TestCSRF: with csrf on, writes need the token a GET with
// "X-CSRF-Token: Fetch" handed out, with its cookie, for the same user.
func TestCSRF(t *testing.T) {
	needPostgres(t)
	db := newFixtureDB(t)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", map[string]config.Source{
		"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true, CSRF: true}}})
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	for _, u := range []string{"alice", "bob"} {
		ag.api(t, "POST", "/api/users", map[string]any{"name": u, "password": pw})
	}
	auth := func(u string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+pw)) }
	root := ag.odata + "/odata/erp/"
	body := []byte(`{"City":"Csrfville"}`)

	r := do(t, "PATCH", root+"Customers(3)", body, "Authorization", auth("alice"), "Content-Type", "application/json")
	if r.Status != 403 || r.Header.Get("X-CSRF-Token") != "Required" {
		t.Fatalf("write without a token: %d %s", r.Status, r.Header.Get("X-CSRF-Token"))
	}
	f := do(t, "GET", root, nil, "Authorization", auth("alice"), "X-CSRF-Token", "Fetch")
	token := f.Header.Get("X-CSRF-Token")
	var cookie string
	for _, c := range (&http.Response{Header: f.Header}).Cookies() {
		if c.Name == "odatagw_csrf" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if f.Status != 200 || token == "" || cookie == "" {
		t.Fatalf("fetch: %d token %q cookie %q", f.Status, token, cookie)
	}
	recordSecret(t, token)
	cases := []struct {
		name, user, token, cookie string
		status                    int
	}{
		{"token without cookie", "alice", token, "", 403},
		{"cookie without token", "alice", "", cookie, 403},
		{"forged token", "alice", "AAAA.BBBB", "odatagw_csrf=AAAA.BBBB", 403},
		{"alice's token used by bob", "bob", token, cookie, 403},
		{"token and cookie", "alice", token, cookie, 204},
	}
	for _, c := range cases {
		h := []string{"Authorization", auth(c.user), "Content-Type", "application/json"}
		if c.token != "" {
			h = append(h, "X-CSRF-Token", c.token)
		}
		if c.cookie != "" {
			h = append(h, "Cookie", c.cookie)
		}
		if r := do(t, "PATCH", root+"Customers(3)", body, h...); r.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.Status, c.status, r.Body)
		}
	}
	// reads need no token
	if r := do(t, "GET", root+"Customers(3)", nil, "Authorization", auth("bob")); r.Status != 200 {
		t.Errorf("read without a token: %d", r.Status)
	}
}
