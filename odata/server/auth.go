package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

// authenticate finds the request's caller under the source's policy and
// puts it (and, for per-user access, the database role to act as) in the
// request's context. Failures answer 401 with the schemes the source
// accepts, after a delay that grows while one address keeps failing.
func (r *request) authenticate(guard *auth.Guard) error {
	req := r.req
	ctx := req.Context()
	client := r.client
	p, err := guard.Authenticate(req)
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthorized) {
			return &odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable, Cause: err,
				Message: "credentials cannot be checked right now; try again in a moment"}
		}
		r.srv.auditAuthFailure(r, client)
		r.srv.metrics.authFail.WithLabelValues(r.name).Inc()
		if d := r.srv.throttle.Failed(client); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		r.w.Header().Set("WWW-Authenticate", guard.Challenge())
		if guard.Unconfigured() {
			return &odata.Error{Status: http.StatusUnauthorized, Code: odata.CodeUnauthorized, Message: "source " + r.name +
				" has no credentials configured, so it accepts no caller: add users (odatagw user add) and turn on basic or token_header " +
				"in the source's auth section (the configuration file, or the admin page's source form), or bearer for OAuth; see docs/security.md"}
		}
		return &odata.Error{Status: http.StatusUnauthorized, Code: odata.CodeUnauthorized, Message: auth.ErrUnauthorized.Error()}
	}
	if p.Method != "anonymous" {
		r.srv.throttle.Succeeded(client)
	}
	r.principal = p
	caller, perUser, cerr := guard.Caller(p)
	if cerr != nil {
		return &odata.Error{Status: http.StatusForbidden, Code: odata.CodeForbidden, Message: cerr.Error()}
	}
	if perUser {
		// the request runs as its caller: sources read who from its context
		r.req = req.WithContext(sources.WithCaller(ctx, caller))
	}
	return nil
}

func forbidden(p *auth.Principal, what, set string) *odata.Error {
	who := p.User
	if who == "" {
		who = "an anonymous caller"
	}
	return &odata.Error{Status: http.StatusForbidden, Code: odata.CodeForbidden, Target: set,
		Message: who + " may not " + what + " " + set + "; an admin of the gateway grants it in the source's auth readers/writers"}
}

// mayRead checks the source's readers for the plan's set.
func (r *request) mayRead(p *plan.Plan) error {
	set := ""
	if p.Set != nil {
		set = p.Set.Name
	}
	if r.guard.MayRead(r.principal, set) {
		return nil
	}
	return forbidden(r.principal, "read", set)
}

// mayWrite checks the source's writers for a set.
func (r *request) mayWrite(set string) error {
	if r.guard.MayWrite(r.principal, set) {
		return nil
	}
	return forbidden(r.principal, "change", set)
}

// CSRF tokens follow the SAP convention Salesforce supports: a GET with
// "X-CSRF-Token: Fetch" gets a token in that header and in a cookie; a
// write must send both back. The token is a nonce with an HMAC over the
// source, the caller and the nonce, so any replica sharing the skiptoken
// secret accepts it and a token of one user is worthless to another.
const (
	csrfHeader = "X-CSRF-Token"
	csrfCookie = "odatagw_csrf"
)

func (s *Server) csrfMAC(source, user string, nonce []byte) []byte {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(source + "\x00" + user + "\x00"))
	m.Write(nonce)
	return m.Sum(nil)[:18]
}

func (s *Server) newCSRFToken(source, user string) string {
	nonce := make([]byte, 18)
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(nonce) + "." + base64.RawURLEncoding.EncodeToString(s.csrfMAC(source, user, nonce))
}

func (s *Server) validCSRFToken(source, user, token string) bool {
	n, m, ok := strings.Cut(token, ".")
	nonce, err1 := base64.RawURLEncoding.Strict().DecodeString(n)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(m)
	return ok && err1 == nil && err2 == nil && len(nonce) == 18 && hmac.Equal(mac, s.csrfMAC(source, user, nonce))
}

// csrf hands out tokens and checks them on writes, where the source asks.
func (r *request) csrf() error {
	if !r.guard.Policy().CSRF {
		return nil
	}
	req := r.req
	if r.inBatch {
		return nil // the $batch carrying this part was checked
	}
	user := r.principal.User
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		if strings.EqualFold(req.Header.Get(csrfHeader), "Fetch") {
			tok := r.srv.newCSRFToken(r.name, user)
			r.w.Header().Set(csrfHeader, tok)
			http.SetCookie(r.w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/odata/" + r.name + "/",
				HttpOnly: true, Secure: req.TLS != nil, SameSite: http.SameSiteStrictMode})
		}
		return nil
	}
	tok := req.Header.Get(csrfHeader)
	cookie, err := req.Cookie(csrfCookie)
	if tok == "" || err != nil || cookie.Value != tok || !r.srv.validCSRFToken(r.name, user, tok) {
		r.w.Header().Set(csrfHeader, "Required")
		return odata.CSRFRequired()
	}
	return nil
}

// auditAuthFailure records a refused credential: who it claimed to be
// (for Basic), never the secret.
func (s *Server) auditAuthFailure(r *request, client string) {
	scheme, _, _ := strings.Cut(r.req.Header.Get("Authorization"), " ")
	claimed := ""
	if u, _, ok := r.req.BasicAuth(); ok {
		claimed = u
	}
	if scheme == "" {
		scheme = "none"
	}
	s.audit.Refused(activity.AuditRecord{Time: time.Now().UTC(), Source: r.name, Method: r.req.Method,
		User: claimed, Auth: scheme, Client: client, Status: http.StatusUnauthorized}, r.req.URL.Path)
}

// auditWrite records a change: who, what set and key, and its outcome.
func (s *Server) auditWrite(r *request, status int) {
	w := r.written
	user, how := "", ""
	if r.principal != nil {
		user, how = r.principal.User, r.principal.Method
	}
	s.audit.Wrote(activity.AuditRecord{Time: time.Now().UTC(), Source: r.name, Set: w.set, Key: w.key, Method: w.method,
		User: user, Auth: how, Client: r.client, Status: status})
}

// written is what a write request changed, for the audit log.
type written struct {
	set, key, method string
}
