package registry

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"time"

	"github.com/odatagw/odatagw/internal/tunnel"
)

// Agent is a registered agent: a process inside a private network that
// dials out to the gateway and carries its database connections. Its
// token is kept only as a SHA-256 hash.
type Agent struct {
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	hash      string
}

const agentsSchema = `CREATE TABLE IF NOT EXISTS odatagw_agents (
	name       TEXT PRIMARY KEY,
	hash       TEXT NOT NULL,
	version    BIGINT NOT NULL,
	created_at TEXT NOT NULL
)`

// ErrAgentExists and ErrNoAgent are the agent counterparts of ErrExists
// and ErrNotFound.
var (
	ErrAgentExists = errors.New("an agent of that name exists")
	ErrNoAgent     = errors.New("no such agent")
)

// AddAgent registers an agent and returns its token, once.
func (s *Store) AddAgent(ctx context.Context, name string) (Agent, string, error) {
	if err := tunnel.ValidName(name); err != nil {
		return Agent{}, "", &FieldError{Field: "name", Message: err.Error()}
	}
	token := newToken()
	hash, _ := hashSecret(UserToken, token)
	a := Agent{Name: name, Version: nextVersion(0), CreatedAt: time.Now().UTC()}
	res, err := s.db.ExecContext(ctx, `INSERT INTO odatagw_agents (name, hash, version, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO NOTHING`, a.Name, hash, a.Version, a.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return Agent{}, "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Agent{}, "", ErrAgentExists
	}
	return a, token, nil
}

// RotateAgent gives an agent a new token, returned once; the old one
// stops working at once, and its tunnels are cut.
func (s *Store) RotateAgent(ctx context.Context, name string) (Agent, string, error) {
	a, err := s.agent(ctx, name)
	if err != nil {
		return Agent{}, "", err
	}
	token := newToken()
	hash, _ := hashSecret(UserToken, token)
	a.Version = nextVersion(a.Version)
	if _, err := s.db.ExecContext(ctx, `UPDATE odatagw_agents SET hash = $1, version = $2 WHERE name = $3`, hash, a.Version, name); err != nil {
		return Agent{}, "", err
	}
	a.hash = ""
	return a, token, nil
}

// RemoveAgent unregisters an agent.
func (s *Store) RemoveAgent(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM odatagw_agents WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoAgent
	}
	return nil
}

// Agents lists the registered agents, by name.
func (s *Store) Agents(ctx context.Context) ([]Agent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, hash, version, created_at FROM odatagw_agents ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Agent{}
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		a.hash = ""
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) agent(ctx context.Context, name string) (Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, `SELECT name, hash, version, created_at FROM odatagw_agents WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, ErrNoAgent
	}
	return a, err
}

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var created string
	if err := row.Scan(&a.Name, &a.hash, &a.Version, &created); err != nil {
		return Agent{}, err
	}
	a.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	return a, nil
}

// CheckAgent tells whether token is the agent name's, comparing hashes in
// constant time; an unknown name costs as long as a known one.
func (s *Store) CheckAgent(ctx context.Context, name, token string) (bool, error) {
	want, _ := hashSecret(UserToken, token)
	a, err := s.agent(ctx, name)
	if errors.Is(err, ErrNoAgent) {
		subtle.ConstantTimeCompare([]byte(want), []byte(want))
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(a.hash), []byte(want)) == 1, nil
}
