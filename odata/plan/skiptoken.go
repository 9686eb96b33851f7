package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/odatagw/odatagw/odata/format"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/uri"
)

// SkipToken is the $skiptoken of a request, as given; Signer.Decode checks
// it against the query and sets the position it holds.
type SkipToken struct {
	Raw string
}

// Signer makes and checks keyset skiptokens. A token holds the sort values
// of the last row of a page and a fingerprint of the query it belongs to,
// signed with a secret so that a client can neither forge a position nor
// reuse a token with another filter, order or schema.
type Signer struct{ key []byte }

// NewSigner returns a signer with the given secret. Replicas behind one
// load balancer must share it, or a nextLink fails on another replica.
func NewSigner(secret []byte) *Signer { return &Signer{key: append([]byte(nil), secret...)} }

type tokenPayload struct {
	Fingerprint string   `json:"f"`
	Values      []string `json:"v"`
}

func base64URL(b []byte) string { return tokenEncoding.EncodeToString(b) }

// tokenEncoding decodes strictly: the lenient decoder ignores a last
// character's unused bits, so several spellings would open one token and
// a token altered there would still be accepted.
var tokenEncoding = base64.RawURLEncoding.Strict()

// fingerprint identifies everything that decides row order and membership.
func fingerprint(svc string, q *Query) string {
	var b strings.Builder
	b.WriteString(svc)
	b.WriteString("|" + q.Set.Name + "|")
	if q.Where != nil {
		b.WriteString(Canonical(q.Where))
	}
	for _, o := range q.OrderBy {
		b.WriteString("|" + Canonical(o.Expr))
		if o.Desc {
			b.WriteString(" desc")
		}
	}
	h := sha256.Sum256([]byte(b.String()))
	return base64URL(h[:12])
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// Encode makes the token that continues q after a row with these sort values.
func (s *Signer) Encode(metadataVersion string, q *Query, sortValues []any) string {
	p := tokenPayload{Fingerprint: fingerprint(metadataVersion, q)}
	for i, o := range q.OrderBy {
		p.Values = append(p.Values, format.Literal(sortValues[i], o.Expr.Type()))
	}
	raw, _ := json.Marshal(p)
	return base64URL(raw) + "." + base64URL(s.mac(raw))
}

var errBadToken = odata.BadRequest(odata.CodeBadSkipToken,
	"the $skiptoken is not one this service issued for this query; follow the @odata.nextLink exactly as returned, or start again from the first page").WithTarget("$skiptoken")

// Decode checks the token against q and sets q.After to the position it holds.
func (s *Signer) Decode(metadataVersion string, q *Query, token string) *odata.Error {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return errBadToken
	}
	raw, err1 := tokenEncoding.DecodeString(body)
	mac, err2 := tokenEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(raw)) {
		return errBadToken
	}
	var p tokenPayload
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Values) != len(q.OrderBy) {
		return errBadToken
	}
	if p.Fingerprint != fingerprint(metadataVersion, q) {
		return odata.BadRequest(odata.CodeBadSkipToken,
			"the $skiptoken belongs to another query, or the data source's schema changed since it was issued; start again from the first page").WithTarget("$skiptoken")
	}
	after := make([]any, len(p.Values))
	for i, text := range p.Values {
		v, ok := decodeValue(text, q.OrderBy[i].Expr.Type())
		if !ok {
			return errBadToken
		}
		after[i] = v
	}
	q.After = after
	return nil
}

func decodeValue(text string, t metadata.Type) (any, bool) {
	n, err := uri.ParseExpression("$skiptoken", text)
	if err != nil {
		return nil, false
	}
	var lit *uri.Literal
	switch v := n.(type) {
	case *uri.Literal:
		lit = v
	case *uri.Unary: // a negative decimal written as -(x) cannot occur; numbers carry their sign
		return nil, false
	default:
		return nil, false
	}
	c, cerr := convertConst(constFromLiteral(lit), t)
	if cerr != nil {
		return nil, false
	}
	return c.Value, true
}

// Seal signs v (as JSON) into an opaque token that only this signer (or a
// replica sharing its secret) accepts back through Open.
func (s *Signer) Seal(v any) string {
	payload, _ := json.Marshal(v)
	return base64URL(payload) + "." + base64URL(s.mac(payload))
}

// Open checks a token Seal made and decodes it into v; false when it was
// altered or made up.
func (s *Signer) Open(token string, v any) bool {
	p, m, ok := strings.Cut(token, ".")
	payload, err1 := tokenEncoding.DecodeString(p)
	mac, err2 := tokenEncoding.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(payload)) {
		return false
	}
	return json.Unmarshal(payload, v) == nil
}
