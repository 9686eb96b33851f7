package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// IntrospectionTimeout bounds one call to the identity provider: past it,
// the request is answered 503 rather than kept waiting.
const IntrospectionTimeout = 5 * time.Second

// introspector asks an identity provider about opaque access tokens
// (OAuth 2.0 Token Introspection, RFC 7662), as Salesforce sends them with
// its OAuth 2.0 authentication when the provider does not issue JWTs.
type introspector struct {
	url, clientID, secret string
	issuer, audience      string
	userClaim             string
	client                *http.Client
	log                   *slog.Logger
	down                  atomic.Bool // the endpoint failed; logged once until it answers again
}

func newIntrospector(c Bearer, log *slog.Logger) (*introspector, error) {
	u, err := url.Parse(c.IntrospectionURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bearer: introspection_url %q must be an http(s) URL", c.IntrospectionURL)
	}
	secret := c.ClientSecret
	if c.ClientSecretEnv != "" {
		secret = os.Getenv(c.ClientSecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("bearer: the environment variable %s (client_secret_env) is not set", c.ClientSecretEnv)
		}
	}
	if c.ClientID == "" || secret == "" {
		return nil, errors.New("bearer: introspection needs the gateway's client_id and its client_secret (or client_secret_env) at the identity provider")
	}
	return &introspector{url: c.IntrospectionURL, clientID: c.ClientID, secret: secret, issuer: c.Issuer,
		audience: c.Audience, userClaim: c.UserClaim, log: log,
		client: &http.Client{Timeout: IntrospectionTimeout}}, nil
}

// errIntrospection is a token that could not be checked: the endpoint is
// down, slow or answers nonsense. The caller gets 503, not 401.
var errIntrospection = errors.New("the identity provider's introspection endpoint did not answer")

// check asks about one token. An active token names its user (sub, or
// user_claim, or else username) and, with roleClaim, the database role;
// a configured issuer and audience must match what the provider says.
func (in *introspector) check(ctx context.Context, token, roleClaim string) (*Principal, time.Time, error) {
	if token == "" {
		return nil, time.Time{}, ErrUnauthorized
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, in.failed(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))
	res, err := in.client.Do(req)
	if err != nil {
		return nil, time.Time{}, in.failed(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, time.Time{}, in.failed(fmt.Errorf("status %d", res.StatusCode))
	}
	var claims map[string]any
	dec := json.NewDecoder(io.LimitReader(res.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, time.Time{}, in.failed(fmt.Errorf("the answer is not JSON: %w", err))
	}
	if in.down.Swap(false) {
		in.log.Info("the token introspection endpoint answers again", "introspection_url", in.url)
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, time.Time{}, ErrUnauthorized
	}
	if in.issuer != "" && claims["iss"] != in.issuer {
		return nil, time.Time{}, ErrUnauthorized
	}
	if in.audience != "" && !hasAudience(claims["aud"], in.audience) {
		return nil, time.Time{}, ErrUnauthorized
	}
	var exp time.Time
	if n, ok := claims["exp"].(json.Number); ok {
		if secs, err := n.Int64(); err == nil {
			exp = time.Unix(secs, 0)
			if time.Now().After(exp.Add(Leeway)) {
				return nil, time.Time{}, ErrUnauthorized
			}
		}
	}
	userClaim := in.userClaim
	if userClaim == "" {
		if s, _ := claims["sub"].(string); s == "" {
			userClaim = "username" // RFC 7662 names both; some providers send only this
		}
	}
	p, err := principalOf(claims, userClaim, roleClaim)
	return p, exp, err
}

// failed logs the endpoint's first failure (not every request's) and
// returns the error that makes the request 503; the token and the client
// secret appear in neither.
func (in *introspector) failed(cause error) error {
	if !in.down.Swap(true) {
		in.log.Error("the token introspection endpoint fails; requests with bearer tokens get 503 until it answers",
			"introspection_url", in.url, "error", cause)
	}
	return fmt.Errorf("%w: %v", errIntrospection, cause)
}

// hasAudience reports whether aud (a string or a list) names want.
func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if x == want {
				return true
			}
		}
	}
	return false
}
