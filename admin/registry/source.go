package registry

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/dsn"
)

// Origin says where a registration came from.
const (
	OriginAPI    = "api"    // created through the admin API, page or CLI
	OriginConfig = "config" // from --source or the configuration file, registered again at each start
)

// Source is one registration as the admin API shows it: a name, the
// settings (config.Source, whose DSN never holds the password here) and
// what the store adds. The password is given in the DSN or in Password when
// saving, sealed apart, and only PasswordSet tells that there is one.
type Source struct {
	Name          string `json:"name"`
	config.Source        // its fields appear at the top level in JSON

	Password    string `json:"password,omitempty"` // write-only
	PasswordSet bool   `json:"password_set"`

	Origin    string    `json:"origin"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// FullDSN is the DSN with its password, to connect with.
func (s Source) FullDSN() string { return dsn.Join(s.DSN, s.Password) }

// Config is the registration's settings, with the password in the DSN.
func (s Source) Config() config.Source {
	c := s.Source
	c.DSN = s.FullDSN()
	return c
}

// FromConfig is a configuration file section as a registration.
func FromConfig(name string, c config.Source, origin string) Source {
	s := Source{Name: name, Source: c, Origin: origin}
	s.DSN, s.Password = dsn.Split(c.DSN)
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
	ja, _ := json.Marshal(a.Source)
	jb, _ := json.Marshal(b.Source)
	return a.Password == b.Password && string(ja) == string(jb) && a.Origin == b.Origin
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
