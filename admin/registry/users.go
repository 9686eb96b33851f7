package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User kinds: a password checked with HTTP Basic, or an API token sent in
// a custom header.
const (
	UserPassword = "password"
	UserToken    = "token"
)

// User is a caller the gateway knows. Its secret is kept only as a hash:
// bcrypt for passwords, SHA-256 for the random tokens the gateway makes.
type User struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Role      string    `json:"role,omitempty"` // database role for per-user access
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	hash      string
}

const usersSchema = `CREATE TABLE IF NOT EXISTS odatagw_users (
	name       TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	hash       TEXT NOT NULL,
	role       TEXT NOT NULL,
	version    BIGINT NOT NULL,
	created_at TEXT NOT NULL
)`

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$`)

// ValidUserName checks a user name: it travels in HTTP Basic (no colon).
func ValidUserName(name string) error {
	if !userName.MatchString(name) {
		return &FieldError{Field: "name", Message: "a user name holds letters, digits and _ . @ + - (at most 128), starting with a letter or digit"}
	}
	return nil
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

func hashSecret(kind, secret string) (string, error) {
	if kind == UserToken {
		sum := sha256.Sum256([]byte(secret))
		return "sha256:" + hex.EncodeToString(sum[:]), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	return string(h), err
}

// newToken makes an API token: 32 random bytes.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "odgw_" + base64.RawURLEncoding.EncodeToString(b)
}

// AddUser saves a user. For a token user the token is made here and
// returned, once; for a password user password is checked and hashed.
func (s *Store) AddUser(ctx context.Context, u User, password string) (User, string, error) {
	if err := ValidUserName(u.Name); err != nil {
		return User{}, "", err
	}
	secret := password
	switch u.Kind {
	case UserToken:
		secret = newToken()
	case UserPassword, "":
		u.Kind = UserPassword
		if len(password) < MinPasswordLength {
			return User{}, "", &FieldError{Field: "password", Message: fmt.Sprintf("at least %d characters", MinPasswordLength)}
		}
	default:
		return User{}, "", &FieldError{Field: "kind", Message: "password or token"}
	}
	hash, err := hashSecret(u.Kind, secret)
	if err != nil {
		return User{}, "", err
	}
	u.Version, u.CreatedAt = nextVersion(0), time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO odatagw_users (name, kind, hash, role, version, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO NOTHING`, u.Name, u.Kind, hash, u.Role, u.Version, u.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return User{}, "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, "", ErrUserExists
	}
	if u.Kind == UserToken {
		return u, secret, nil
	}
	return u, "", nil
}

// ErrUserExists and ErrNoUser are the user counterparts of ErrExists and
// ErrNotFound.
var (
	ErrUserExists = errors.New("a user of that name exists")
	ErrNoUser     = errors.New("no such user")
)

// UpdateUser changes a user's role and, when given, password; a token
// user may get a new token (rotate), returned once.
func (s *Store) UpdateUser(ctx context.Context, name, role, password string, rotate bool) (User, string, error) {
	u, err := s.user(ctx, name)
	if err != nil {
		return User{}, "", err
	}
	hash, secret := u.hash, ""
	switch {
	case u.Kind == UserPassword && password != "":
		if len(password) < MinPasswordLength {
			return User{}, "", &FieldError{Field: "password", Message: fmt.Sprintf("at least %d characters", MinPasswordLength)}
		}
		if hash, err = hashSecret(u.Kind, password); err != nil {
			return User{}, "", err
		}
	case u.Kind == UserToken && rotate:
		secret = newToken()
		hash, _ = hashSecret(u.Kind, secret)
	}
	u.Role, u.Version = role, nextVersion(u.Version)
	if _, err := s.db.ExecContext(ctx, `UPDATE odatagw_users SET hash = $2, role = $3, version = $4 WHERE name = $1`, name, hash, role, u.Version); err != nil {
		return User{}, "", err
	}
	return u, secret, nil
}

// RemoveUser deletes a user.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM odatagw_users WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoUser
	}
	return nil
}

// Users lists the users, without their hashes.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, kind, hash, role, version, created_at FROM odatagw_users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		u.hash = ""
		out = append(out, u)
	}
	return out, rows.Err()
}

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created string
	if err := row.Scan(&u.Name, &u.Kind, &u.hash, &u.Role, &u.Version, &created); err != nil {
		return u, err
	}
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	return u, nil
}

func (s *Store) user(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT name, kind, hash, role, version, created_at FROM odatagw_users WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNoUser
	}
	return u, err
}

// dummyHash is compared against when a user does not exist, so that an
// unknown name costs as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("odatagw: no such user"), bcrypt.DefaultCost)

// CheckPassword returns the password user name, if the password is right.
func (s *Store) CheckPassword(ctx context.Context, name, password string) (User, bool, error) {
	u, err := s.user(ctx, name)
	if errors.Is(err, ErrNoUser) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	if u.Kind != UserPassword || bcrypt.CompareHashAndPassword([]byte(u.hash), []byte(password)) != nil {
		return User{}, false, nil
	}
	u.hash = ""
	return u, true, nil
}

// CheckToken returns the token user whose token this is.
func (s *Store) CheckToken(ctx context.Context, token string) (User, bool, error) {
	want, _ := hashSecret(UserToken, token)
	rows, err := s.db.QueryContext(ctx, `SELECT name, kind, hash, role, version, created_at FROM odatagw_users WHERE kind = 'token'`)
	if err != nil {
		return User{}, false, err
	}
	defer rows.Close()
	var found User
	ok := false
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return User{}, false, err
		}
		// compare every hash in constant time, so timing tells nothing
		if subtle.ConstantTimeCompare([]byte(u.hash), []byte(want)) == 1 {
			found, ok = u, true
		}
	}
	found.hash = ""
	return found, ok, rows.Err()
}
