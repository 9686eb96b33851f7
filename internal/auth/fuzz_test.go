package auth_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/auth"
)

// FuzzAuthenticate throws arbitrary Authorization and token headers at a
// guard that accepts Basic, tokens and HS256 bearer tokens: it must never
// panic, and must let in only the real credentials.
func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	store, err := registry.Open(ctx, filepath.Join(f.TempDir(), "state.db"), "k")
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	const password = "correct horse battery"
	if _, _, err := store.AddUser(ctx, registry.User{Name: "alice"}, password); err != nil {
		f.Fatal(err)
	}
	_, token, err := store.AddUser(ctx, registry.User{Name: "robot", Kind: registry.UserToken}, "")
	if err != nil {
		f.Fatal(err)
	}
	g, err := auth.NewGuard("erp", auth.Policy{Basic: true, TokenHeader: "X-Api-Key",
		Bearer: &auth.Bearer{Secret: "0123456789abcdef0123456789abcdef", Issuer: "i", Audience: "a"}}, auth.NewShared(storeAccounts{store}, nil))
	if err != nil {
		f.Fatal(err)
	}
	defer g.Close()
	for _, seed := range [][2]string{
		{"Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5", ""},
		{"Basic YWxpY2U6", ""},
		{"Basic !!!", ""},
		{"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", ""},
		{"Bearer ", "odgw_x"},
		{"", token},
		{"basic", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, authz, apiKey string) {
		r, _ := http.NewRequest("GET", "http://x/odata/erp/", nil)
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Api-Key", apiKey)
		p, err := g.Authenticate(r)
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		user, pass, basicOK := r.BasicAuth()
		switch {
		case p.Method == "basic" && basicOK && user == "alice" && pass == password:
		case p.Method == "token" && strings.TrimSpace(apiKey) == token:
		default:
			t.Fatalf("let in %+v with Authorization %q, X-Api-Key %q", p, authz, apiKey)
		}
	})
}

// storeAccounts checks credentials against the gateway's real user store.
type storeAccounts struct{ store *registry.Store }

func (a storeAccounts) CheckPassword(ctx context.Context, name, password string) (auth.Account, bool, error) {
	u, ok, err := a.store.CheckPassword(ctx, name, password)
	return auth.Account{Name: u.Name, Role: u.Role}, ok, err
}

func (a storeAccounts) CheckToken(ctx context.Context, token string) (auth.Account, bool, error) {
	u, ok, err := a.store.CheckToken(ctx, token)
	return auth.Account{Name: u.Name, Role: u.Role}, ok, err
}
