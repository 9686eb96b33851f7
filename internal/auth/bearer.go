package auth

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// bearer checks bearer tokens for one source: JWTs itself, opaque tokens
// through the identity provider (introspect).
type bearer struct {
	cfg        Bearer
	keyfunc    jwt.Keyfunc
	methods    []string
	introspect *introspector
}

// Leeway is the clock difference tolerated on exp and nbf.
const Leeway = 30 * time.Second

func newBearer(ctx context.Context, c Bearer, log *slog.Logger) (*bearer, error) {
	b := &bearer{cfg: c}
	asymmetric := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	n := 0
	if c.JWKSURL != "" {
		n++
		k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) {
					log.Warn("fetching the JWKS failed; the keys fetched before keep working", "jwks_url", u, "error", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("bearer: jwks_url %s: %w", c.JWKSURL, err)
		}
		b.keyfunc, b.methods = k.Keyfunc, asymmetric
	}
	if c.KeyFile != "" {
		n++
		key, err := readPublicKey(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bearer: key_file %s: %w", c.KeyFile, err)
		}
		b.keyfunc = func(*jwt.Token) (any, error) { return key, nil }
		b.methods = asymmetric
	}
	if c.Secret != "" {
		n++
		if len(c.Secret) < 32 {
			return nil, errors.New("bearer: secret must be at least 32 characters")
		}
		secret := []byte(c.Secret)
		b.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		b.methods = []string{"HS256", "HS384", "HS512"}
	}
	if c.IntrospectionURL != "" {
		n++
		in, err := newIntrospector(c, log)
		if err != nil {
			return nil, err
		}
		b.introspect = in
	}
	if n != 1 {
		return nil, errors.New("bearer: give exactly one of jwks_url, key_file, secret and introspection_url")
	}
	if b.introspect == nil && (c.Issuer == "" || c.Audience == "") {
		return nil, errors.New("bearer: give the issuer and audience the tokens must carry")
	}
	return b, nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
		return cert.PublicKey, nil
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}

// check verifies a token: signature, algorithm, issuer, audience, expiry
// (required) and not-before, or asks the identity provider; the user is
// the configured claim. An error other than ErrUnauthorized means the token
// could not be checked now.
func (b *bearer) check(ctx context.Context, token, roleClaim string) (*Principal, time.Time, error) {
	if b.introspect != nil {
		return b.introspect.check(ctx, token, roleClaim)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, b.keyfunc,
		jwt.WithValidMethods(b.methods), jwt.WithIssuer(b.cfg.Issuer), jwt.WithAudience(b.cfg.Audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(Leeway))
	if err != nil {
		return nil, time.Time{}, ErrUnauthorized
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, time.Time{}, ErrUnauthorized
	}
	p, err := principalOf(claims, b.cfg.UserClaim, roleClaim)
	return p, exp.Time, err
}

// principalOf is the caller a token's claims name: the user from
// userClaim (default sub), the database role from roleClaim.
func principalOf(claims map[string]any, userClaim, roleClaim string) (*Principal, error) {
	if userClaim == "" {
		userClaim = "sub"
	}
	user, _ := claims[userClaim].(string)
	if user == "" {
		return nil, ErrUnauthorized
	}
	p := &Principal{User: user, Method: "bearer", Claims: claims}
	if roleClaim != "" {
		p.Role, _ = claims[roleClaim].(string)
	}
	return p, nil
}
