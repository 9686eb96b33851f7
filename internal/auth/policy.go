package auth

// Policy is a source's access policy (see docs/security.md), as the
// configuration file, the state store and the admin API hold it. Without
// any credential kind and without Anonymous, every request gets 401.
type Policy struct {
	// Anonymous lets callers without credentials in. Only where the
	// gateway is reachable by nobody else (a proxy restricts access).
	Anonymous bool `yaml:"anonymous" json:"anonymous,omitempty"`
	// Basic accepts HTTP Basic with the gateway's users (odatagw user add).
	Basic bool `yaml:"basic" json:"basic,omitempty"`
	// TokenHeader accepts the API tokens of the gateway's token users in
	// this request header (a Salesforce custom header), e.g. X-Api-Key.
	TokenHeader string `yaml:"token_header" json:"token_header,omitempty"`
	// Bearer accepts JWT bearer tokens (OAuth 2.0).
	Bearer *Bearer `yaml:"bearer" json:"bearer,omitempty"`
	// Readers and Writers name the users who may read and write; "*" is
	// every authenticated caller. Empty Readers: everyone who may call;
	// empty Writers: the readers.
	Readers []string `yaml:"readers" json:"readers,omitempty"`
	Writers []string `yaml:"writers" json:"writers,omitempty"`
	// Sets narrows Readers and Writers for single entity sets.
	Sets map[string]Access `yaml:"sets" json:"sets,omitempty"`
	// PerUser runs each request as the caller's database role (PostgreSQL
	// row-level security decides what they see). The role comes from the
	// user's registration or, for bearer tokens, from RoleClaim.
	PerUser   bool   `yaml:"per_user" json:"per_user,omitempty"`
	RoleClaim string `yaml:"role_claim" json:"role_claim,omitempty"`
	// CSRF requires writes to carry a token fetched with
	// "X-CSRF-Token: Fetch", as SAP-style OData services do.
	CSRF bool `yaml:"csrf" json:"csrf,omitempty"`
}

// Access lists who may read and write one entity set.
type Access struct {
	Readers []string `yaml:"readers" json:"readers,omitempty"`
	Writers []string `yaml:"writers" json:"writers,omitempty"`
}

// Bearer checks OAuth 2.0 bearer tokens. A JWT: the signature against a
// JWKS URL (fetched, cached, refreshed when an unknown key appears) or a
// configured key, then issuer, audience, expiry and not-before. An opaque
// token: the identity provider's introspection endpoint (RFC 7662) says
// whether it is active and whose it is.
type Bearer struct {
	JWKSURL string `yaml:"jwks_url" json:"jwks_url,omitempty"`
	// KeyFile is a PEM public key (RSA, ECDSA or Ed25519).
	KeyFile string `yaml:"key_file" json:"key_file,omitempty"`
	// Secret is an HS256 shared secret; only in the file (${VAR}), never
	// shown by the admin API.
	Secret    string `yaml:"secret" json:"-"`
	Issuer    string `yaml:"issuer" json:"issuer,omitempty"`
	Audience  string `yaml:"audience" json:"audience,omitempty"`
	UserClaim string `yaml:"user_claim" json:"user_claim,omitempty"` // default sub
	// IntrospectionURL is the identity provider's token introspection
	// endpoint, which the gateway calls as the client ClientID with its
	// secret (HTTP Basic). The secret is ClientSecret, only in the file
	// (${VAR}), or the environment variable ClientSecretEnv names, which
	// the admin API may set without the secret crossing it.
	IntrospectionURL string `yaml:"introspection_url" json:"introspection_url,omitempty"`
	ClientID         string `yaml:"client_id" json:"client_id,omitempty"`
	ClientSecret     string `yaml:"client_secret" json:"-"`
	ClientSecretEnv  string `yaml:"client_secret_env" json:"client_secret_env,omitempty"`
}

// Any reports whether the policy lets anybody in at all.
func (a Policy) Any() bool {
	return a.Anonymous || a.Basic || a.TokenHeader != "" || a.Bearer != nil
}
