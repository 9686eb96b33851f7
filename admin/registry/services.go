package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/odatagw/odatagw/internal/config"
)

// Errors of services, which the API maps to statuses.
var (
	ErrNoService     = errors.New("no such service")
	ErrServiceExists = errors.New("a service or source of that name exists")
	// ErrInUse is a source that a service serves: it cannot go before
	// the service lets it go.
	ErrInUse = errors.New("the source is a source of a service")
)

const servicesSchema = `CREATE TABLE IF NOT EXISTS odatagw_services (
	name       TEXT PRIMARY KEY,
	options    TEXT NOT NULL,
	version    BIGINT NOT NULL,
	updated_at TEXT NOT NULL
)`

// Service is a registered service over several sources: its settings as
// the configuration file's services section holds them, and its version.
type Service struct {
	Name string `json:"name"`
	config.Service
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Services lists the registered services, by name.
func (s *Store) Services(ctx context.Context) ([]Service, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, options, version, updated_at FROM odatagw_services ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Service
	for rows.Next() {
		svc, err := scanService(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, rows.Err()
}

// Service reads one registered service.
func (s *Store) Service(ctx context.Context, name string) (Service, error) {
	svc, err := scanService(s.db.QueryRowContext(ctx, `SELECT name, options, version, updated_at FROM odatagw_services WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Service{}, ErrNoService
	}
	return svc, err
}

func scanService(row interface{ Scan(...any) error }) (Service, error) {
	var svc Service
	var opts, at string
	if err := row.Scan(&svc.Name, &opts, &svc.Version, &at); err != nil {
		return Service{}, err
	}
	if err := json.Unmarshal([]byte(opts), &svc.Service); err != nil {
		return Service{}, err
	}
	svc.UpdatedAt, _ = time.Parse(time.RFC3339Nano, at)
	return svc, nil
}

// CreateService registers a service; ErrServiceExists when one of that
// name is.
func (s *Store) CreateService(ctx context.Context, svc Service) (Service, error) {
	opts, err := json.Marshal(svc.Service)
	if err != nil {
		return Service{}, err
	}
	svc.Version, svc.UpdatedAt = nextVersion(0), time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO odatagw_services (name, options, version, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO NOTHING`, svc.Name, string(opts), svc.Version, svc.UpdatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return Service{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Service{}, ErrServiceExists
	}
	return svc, nil
}

// UpdateService replaces a service's settings; ifVersion, when not 0,
// must be the stored version, else ErrChanged.
func (s *Store) UpdateService(ctx context.Context, svc Service, ifVersion int64) (Service, error) {
	opts, err := json.Marshal(svc.Service)
	if err != nil {
		return Service{}, err
	}
	cur, err := s.Service(ctx, svc.Name)
	if err != nil {
		return Service{}, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return Service{}, ErrChanged
	}
	svc.Version, svc.UpdatedAt = nextVersion(cur.Version), time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `UPDATE odatagw_services SET options = $2, version = $3, updated_at = $4 WHERE name = $1 AND version = $5`,
		svc.Name, string(opts), svc.Version, svc.UpdatedAt.Format(time.RFC3339Nano), cur.Version)
	if err != nil {
		return Service{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Service{}, ErrChanged
	}
	return svc, nil
}

// DeleteService removes a service; ifVersion as for UpdateService.
func (s *Store) DeleteService(ctx context.Context, name string, ifVersion int64) error {
	return s.deleteRow(ctx, "odatagw_services", name, ifVersion, ErrNoService)
}
