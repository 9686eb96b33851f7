package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminSignInLink: `odatagw admin login` prints a link that works
// once and opens a browser session (an HttpOnly, SameSite=Strict cookie);
// the session reads the API, changes only with its CSRF token, and ends
// on sign-out. The bearer token works as before.
func TestAdminSignInLink(t *testing.T) {
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	link := func() string {
		t.Helper()
		cmd := command(t, buildBinary(t), []string{"ODATAGW_ADMIN_URL=" + ag.admin, "ODATAGW_ADMIN_TOKEN=" + ag.token}, "admin", "login")
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil || !strings.HasPrefix(lines[len(lines)-1], ag.admin+"/login?code=") {
			t.Fatalf("odatagw admin login: %v\n%s", err, out)
		}
		recordSecret(t, strings.TrimPrefix(lines[len(lines)-1], ag.admin+"/login?code="))
		return lines[len(lines)-1]
	}
	get := func(u string) *http.Response {
		t.Helper()
		res, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// not signed in: the page's question is answered without a throttle
	if r := do(t, "GET", ag.admin+"/api/session", nil); r.Status != 401 {
		t.Fatalf("no credential: %d", r.Status)
	}

	first := link()
	res := get(first)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "odatagw_admin" {
			cookie = c
		}
	}
	if res.StatusCode != 303 || res.Header.Get("Location") != "/" || cookie == nil || !cookie.HttpOnly ||
		cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.MaxAge <= 0 {
		t.Fatalf("the link: %d %q %+v", res.StatusCode, res.Header.Get("Location"), cookie)
	}
	recordSecret(t, cookie.Value)
	if again := get(first); again.StatusCode != 401 {
		t.Errorf("the link a second time: %d", again.StatusCode)
	}
	if made := get(ag.admin + "/login?code=made-up"); made.StatusCode != 401 {
		t.Errorf("a made-up code: %d", made.StatusCode)
	}

	withCookie := []string{"Cookie", "odatagw_admin=" + cookie.Value}
	s := do(t, "GET", ag.admin+"/api/session", nil, withCookie...)
	csrf := jsonField(t, s.Body, "csrf")
	if s.Status != 200 || csrf == "" {
		t.Fatalf("the session: %d %s", s.Status, s.Body)
	}
	if r := do(t, "GET", ag.admin+"/api/sources", nil, withCookie...); r.Status != 200 {
		t.Errorf("reading with the session: %d %s", r.Status, r.Body)
	}
	user := []byte(`{"name":"carol","kind":"token"}`)
	if r := do(t, "POST", ag.admin+"/api/users", user, append(withCookie, "Content-Type", "application/json")...); r.Status != 403 || !strings.Contains(string(r.Body), "X-CSRF-Token") {
		t.Errorf("a change without the CSRF token: %d %s", r.Status, r.Body)
	}
	if r := do(t, "POST", ag.admin+"/api/users", user, append(withCookie, "Content-Type", "application/json", "X-CSRF-Token", csrf+"x")...); r.Status != 403 {
		t.Errorf("a change with a wrong CSRF token: %d %s", r.Status, r.Body)
	}
	r := do(t, "POST", ag.admin+"/api/users", user, append(withCookie, "Content-Type", "application/json", "X-CSRF-Token", csrf)...)
	recordSecret(t, jsonField(t, r.Body, "token"))
	if r.Status != 201 {
		t.Errorf("a change with the CSRF token: %d %s", r.Status, r.Body)
	}

	// a deep link goes on to its page, and never off this listener
	for next, want := range map[string]string{"/?source=erp": "/?source=erp", "//evil.example.com/": "/", "https://evil.example.com/": "/", "": "/"} {
		if res := get(link() + "&next=" + url.QueryEscape(next)); res.Header.Get("Location") != want {
			t.Errorf("next=%q: went to %q, want %q", next, res.Header.Get("Location"), want)
		}
	}

	// sign-out ends the session
	if r := do(t, "POST", ag.admin+"/api/logout", nil, append(withCookie, "X-CSRF-Token", csrf)...); r.Status != 204 {
		t.Errorf("sign-out: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", ag.admin+"/api/session", nil, withCookie...); r.Status != 401 {
		t.Errorf("the session after sign-out: %d", r.Status)
	}
	// the bearer token is as it was
	if r := ag.api(t, "GET", "/api/session", nil); r.Status != 200 || jsonField(t, r.Body, "csrf") != "" {
		t.Errorf("the token: %d %s", r.Status, r.Body)
	}
}

// jsonField is one string field of a JSON object, "" when absent.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	s, _ := m[name].(string)
	return s
}
