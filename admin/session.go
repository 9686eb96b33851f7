package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Browser sessions. The API's bearer token stays the credential of
// scripts and of `odatagw source`; a person may also sign in with a link
// that `odatagw admin login` asks for: its one-time code is exchanged for
// a session cookie (HttpOnly, SameSite=Strict), so that a new tab, a
// bookmarked deep link or a screenshot tool opens the page signed in. A
// write made with the cookie must carry the session's CSRF token in
// X-CSRF-Token (the page reads it from GET /api/session).

const (
	// codeTTL is how long a sign-in link works, once.
	codeTTL = 10 * time.Minute
	// sessionTTL is how long a session lasts after its sign-in.
	sessionTTL = 12 * time.Hour
	// maxCodes and maxSessions bound what is kept: the oldest go first.
	maxCodes, maxSessions = 100, 1000

	sessionCookie = "odatagw_admin"
	csrfHeader    = "X-CSRF-Token"
)

type session struct {
	csrf    string
	expires time.Time
}

// sessions holds the open sign-in codes and the sessions they opened, by
// the SHA-256 of their secret (the secrets themselves are not kept).
type sessions struct {
	mu    sync.Mutex
	codes map[[32]byte]time.Time
	live  map[[32]byte]session
	now   func() time.Time
}

func newSessions() *sessions {
	return &sessions{codes: map[[32]byte]time.Time{}, live: map[[32]byte]session{}, now: time.Now}
}

func secret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newCode makes a one-time sign-in code.
func (s *sessions) newCode() string {
	code := secret()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for h, exp := range s.codes {
		if now.After(exp) {
			delete(s.codes, h)
		}
	}
	if len(s.codes) >= maxCodes {
		dropOldest(s.codes, func(t time.Time) time.Time { return t })
	}
	s.codes[sha256.Sum256([]byte(code))] = now.Add(codeTTL)
	return code
}

// redeem spends a code and opens a session: its cookie value and CSRF
// token. A code works once, within codeTTL.
func (s *sessions) redeem(code string) (cookie, csrf string, ok bool) {
	h := sha256.Sum256([]byte(code))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	exp, found := s.codes[h]
	delete(s.codes, h)
	if !found || now.After(exp) {
		return "", "", false
	}
	for k, v := range s.live {
		if now.After(v.expires) {
			delete(s.live, k)
		}
	}
	if len(s.live) >= maxSessions {
		dropOldest(s.live, func(v session) time.Time { return v.expires })
	}
	cookie, csrf = secret(), secret()
	s.live[sha256.Sum256([]byte(cookie))] = session{csrf: csrf, expires: now.Add(sessionTTL)}
	return cookie, csrf, true
}

// check finds the session of a cookie value.
func (s *sessions) check(cookie string) (session, bool) {
	h := sha256.Sum256([]byte(cookie))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live[h]
	if ok && s.now().After(v.expires) {
		delete(s.live, h)
		return session{}, false
	}
	return v, ok
}

// end closes the session of a cookie value.
func (s *sessions) end(cookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, sha256.Sum256([]byte(cookie)))
}

func dropOldest[V any](m map[[32]byte]V, at func(V) time.Time) {
	var oldest [32]byte
	var first time.Time
	for k, v := range m {
		if t := at(v); first.IsZero() || t.Before(first) {
			oldest, first = k, t
		}
	}
	delete(m, oldest)
}

// loginCode answers POST /api/login-codes: a sign-in link for this
// listener, good once within ten minutes.
func (a *api) loginCode(c *gin.Context) error {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	code := a.sessions.newCode()
	c.JSON(http.StatusCreated, gin.H{"url": scheme + "://" + c.Request.Host + "/login?code=" + code,
		"expires_in_seconds": int(codeTTL.Seconds())})
	return nil
}

// login answers GET /login?code=...[&next=/path]: a good code sets the
// session cookie and goes on to the page (or next, a path of this
// listener); a used, expired or made-up one says how to get another.
func (a *api) login(c *gin.Context) {
	client := a.client(c)
	cookie, _, ok := a.sessions.redeem(c.Query("code"))
	if !ok {
		delay := a.throttle.Failed(client)
		a.log.Warn("admin sign-in link refused", "client", client)
		select {
		case <-time.After(delay):
		case <-c.Request.Context().Done():
		}
		c.Data(http.StatusUnauthorized, "text/plain; charset=utf-8",
			[]byte("This sign-in link was used already, has expired (links work once, for 10 minutes) or is not one this gateway made.\n"+
				"Run `odatagw admin login` for a new one, or sign in on the page with the admin token.\n"))
		return
	}
	a.throttle.Succeeded(client)
	a.log.Info("admin signed in with a link", "client", client)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil})
	next := c.Query("next")
	if u, err := url.Parse(next); err != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || u.Host != "" {
		next = "/" // only a path of this listener: never a redirect elsewhere
	}
	c.Redirect(http.StatusSeeOther, next)
}

// logout answers POST /api/logout: the session ends and its cookie goes.
func (a *api) logout(c *gin.Context) error {
	if v, err := c.Cookie(sessionCookie); err == nil {
		a.sessions.end(v)
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil})
	c.Status(http.StatusNoContent)
	return nil
}

// cookieSession authenticates by the session cookie: true when it opened
// the request, which then goes on (or was refused for lacking its CSRF
// token); false when there is no good cookie.
func (a *api) cookieSession(c *gin.Context) bool {
	v, err := c.Cookie(sessionCookie)
	if err != nil || v == "" {
		return false
	}
	s, ok := a.sessions.check(v)
	if !ok {
		return false
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if given := c.GetHeader(csrfHeader); subtle.ConstantTimeCompare([]byte(given), []byte(s.csrf)) != 1 {
			fail(c, errCSRF, "", "a change made with the page's session must carry its "+csrfHeader+" (reload the page)")
			return true
		}
	}
	c.Set("csrf", s.csrf)
	c.Next()
	return true
}
