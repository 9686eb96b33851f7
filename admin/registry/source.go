package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/odatagw/odatagw/internal/config"
)

// Origin says where a registration came from.
const (
	OriginAPI    = "api"    // created through the admin API, page or CLI
	OriginConfig = "config" // from --source or the configuration file, registered again at each start
)

// Source is one registration as the admin API shows it. DSN never holds
// the password: it is given in the DSN or in Password when saving, sealed
// apart, and only PasswordSet tells that there is one.
type Source struct {
	Name        string `json:"name"`
	DSN         string `json:"dsn"`
	Password    string `json:"password,omitempty"` // write-only
	PasswordSet bool   `json:"password_set"`
	Settings           // its fields appear at the top level in JSON

	Origin    string    `json:"origin"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Settings is everything a registration sets besides its name and DSN; the
// store keeps it as JSON.
type Settings struct {
	Schemas          []string                     `json:"schemas,omitempty"`
	Include          []string                     `json:"include,omitempty"`
	Exclude          []string                     `json:"exclude,omitempty"`
	Keys             map[string][]string          `json:"keys,omitempty"`
	Names            map[string]string            `json:"names,omitempty"`
	Columns          map[string]map[string]string `json:"columns,omitempty"`
	PageSize         int                          `json:"page_size,omitempty"`
	ReadOnly         bool                         `json:"read_only"`
	StatementTimeout Duration                     `json:"statement_timeout,omitempty"`
	MaxConnections   int                          `json:"max_connections,omitempty"`
	CacheTTL         *Duration                    `json:"cache_ttl,omitempty"`
	SetCacheTTL      map[string]Duration          `json:"set_cache_ttl,omitempty"`
	ListenChanges    bool                         `json:"listen_changes,omitempty"`
	Auth             config.Auth                  `json:"auth"`
}

// Duration is a time.Duration written as "30s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("write a duration as a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if s == "0" {
		v, err = 0, nil
	}
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}

// FullDSN is the DSN with its password, to connect with.
func (s Source) FullDSN() string { return JoinPassword(s.DSN, s.Password) }

// Config is the registration as a configuration file section.
func (s Source) Config() config.Source {
	c := config.Source{DSN: s.FullDSN(), Schemas: s.Schemas, Include: s.Include, Exclude: s.Exclude,
		Keys: s.Keys, Names: s.Names, Columns: s.Columns, PageSize: s.PageSize, ReadOnly: s.ReadOnly,
		StatementTimeout: time.Duration(s.StatementTimeout), MaxConnections: s.MaxConnections,
		ListenChanges: s.ListenChanges, Auth: s.Auth}
	if s.CacheTTL != nil {
		d := time.Duration(*s.CacheTTL)
		c.CacheTTL = &d
	}
	if len(s.SetCacheTTL) > 0 {
		c.SetCacheTTL = map[string]time.Duration{}
		for k, v := range s.SetCacheTTL {
			c.SetCacheTTL[k] = time.Duration(v)
		}
	}
	return c
}

// FromConfig is a configuration file section as a registration.
func FromConfig(name string, c config.Source, origin string) Source {
	dsn, pw := SplitPassword(c.DSN)
	s := Source{Name: name, DSN: dsn, Password: pw, Origin: origin, Settings: Settings{Schemas: c.Schemas,
		Include: c.Include, Exclude: c.Exclude, Keys: c.Keys, Names: c.Names, Columns: c.Columns,
		PageSize: c.PageSize, ReadOnly: c.ReadOnly, StatementTimeout: Duration(c.StatementTimeout),
		MaxConnections: c.MaxConnections, ListenChanges: c.ListenChanges, Auth: c.Auth}}
	if c.CacheTTL != nil {
		d := Duration(*c.CacheTTL)
		s.CacheTTL = &d
	}
	if len(c.SetCacheTTL) > 0 {
		s.SetCacheTTL = map[string]Duration{}
		for k, v := range c.SetCacheTTL {
			s.SetCacheTTL[k] = Duration(v)
		}
	}
	return s
}

// Public is the registration without its password, for answers and logs.
func (s Source) Public() Source {
	s.PasswordSet = s.PasswordSet || s.Password != ""
	s.Password = ""
	return s
}

// SameSettings reports whether two registrations would open the same
// source, so that registering a configuration file's sources at each start
// does not bump versions needlessly.
func SameSettings(a, b Source) bool {
	ja, _ := json.Marshal(a.Settings)
	jb, _ := json.Marshal(b.Settings)
	return a.DSN == b.DSN && a.Password == b.Password && string(ja) == string(jb) && a.Origin == b.Origin
}

// FieldError is a refused registration, with the field to fix: the admin
// page shows the message next to that field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrFromConfig refuses API changes to a source the configuration file or
// a flag gives: the next start would undo them.
var ErrFromConfig = errors.New("this source comes from the gateway's configuration (--source or the configuration file); change it there, or remove it there to manage it here")
