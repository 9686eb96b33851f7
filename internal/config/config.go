package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
)

// File is the configuration file. Every field may also be set by a flag or
// an ODATAGW_* environment variable; those win over the file.
type File struct {
	Listen           string        `yaml:"listen"`
	PublicURL        string        `yaml:"public_url"`
	SkipTokenSecret  string        `yaml:"skiptoken_secret"`
	LogLevel         string        `yaml:"log_level"`
	LogFormat        string        `yaml:"log_format"`
	PageSize         int           `yaml:"page_size"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	MaxBodyBytes     int           `yaml:"max_body_bytes"`
	// RecordShapes groups requests by shape for the admin's insight
	// (default on; docs/performance.md says what it costs).
	RecordShapes *bool `yaml:"record_shapes"`
	Cache        Cache `yaml:"cache"`
	// MemoryLimit is the memory the gateway may use, e.g. 512MiB
	// (--memory-limit; default: the container's limit, or GOMEMLIMIT).
	MemoryLimit string            `yaml:"memory_limit"`
	Limits      Limits            `yaml:"limits"`
	TLS         TLS               `yaml:"tls"`
	Redis       string            `yaml:"redis"`
	RedisPrefix string            `yaml:"redis_prefix"`
	Sources     map[string]Source `yaml:"sources"`
	// Services serve several sources under one service root: one
	// Salesforce Connect connection for all of them.
	Services map[string]Service `yaml:"services"`
}

// Limits bound what one request may ask and how fast a client may ask;
// zero values keep the defaults (see docs/configuration.md).
type Limits struct {
	MaxURLLength    int     `yaml:"max_url_length"`
	MaxFilterDepth  int     `yaml:"max_filter_depth"`
	MaxFilterNodes  int     `yaml:"max_filter_nodes"`
	MaxSelectItems  int     `yaml:"max_select_items"`
	MaxOrderByItems int     `yaml:"max_orderby_items"`
	MaxInItems      int     `yaml:"max_in_items"`
	MaxSearchTerms  int     `yaml:"max_search_terms"`
	MaxTop          int64   `yaml:"max_top"`
	RateLimit       float64 `yaml:"rate_limit"`
	// server timeouts: sending the headers, the whole request, writing the
	// answer, an idle keep-alive connection
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ClientIPHeader    string        `yaml:"client_ip_header"`
	TrustedProxies    []string      `yaml:"trusted_proxies"`
	QueueTimeout      time.Duration `yaml:"queue_timeout"`
}

// TLS makes the gateway serve HTTPS.
type TLS struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"` // verify client certificates against this CA
}

// Cache configures the query cache of every source.
type Cache struct {
	// TTL is how long a cached answer is used (default 30s); 0 turns the
	// cache off. A source or set may say otherwise.
	TTL *time.Duration `yaml:"ttl"`
	// MaxBytes bounds the cache of every source together (default: from
	// the memory limit; 256 MB when none is known).
	MaxBytes int64 `yaml:"max_bytes"`
	// StaleWhileRevalidate lets an expired answer be used once more while
	// one refresh runs.
	StaleWhileRevalidate bool `yaml:"stale_while_revalidate"`
	// Header sends X-Cache: hit, miss or stale (default true).
	Header *bool `yaml:"header"`
}

// Source is everything that says how one data source is served: the
// configuration file's section, a registration in the state store and
// the admin API (as JSON, where DSN holds no password), and what a source
// kind opens with. It is the one type for these settings; Resolved fills
// its defaults, once.
type Source struct {
	DSN      string                       `yaml:"dsn" json:"dsn"`
	Schemas  []string                     `yaml:"schemas" json:"schemas,omitempty"`     // schemas to expose (PostgreSQL; default public)
	Include  []string                     `yaml:"include" json:"include,omitempty"`     // table name patterns to expose (default all)
	Exclude  []string                     `yaml:"exclude" json:"exclude,omitempty"`     // table name patterns to leave out
	Keys     map[string][]string          `yaml:"keys" json:"keys,omitempty"`           // table -> key columns, for views and tables without one
	Names    map[string]string            `yaml:"names" json:"names,omitempty"`         // table -> entity set name
	Columns  map[string]map[string]string `yaml:"columns" json:"columns,omitempty"`     // table -> column -> property name
	PageSize int                          `yaml:"page_size" json:"page_size,omitempty"` // server-driven page size (default 1000, at most 2000)
	ReadOnly bool                         `yaml:"read_only" json:"read_only"`
	// ReadOnlySets names entity sets served read-only in a writable source.
	ReadOnlySets     []string `yaml:"read_only_sets" json:"read_only_sets,omitempty"`
	StatementTimeout Duration `yaml:"statement_timeout" json:"statement_timeout,omitempty"` // bounds every query (default 60s, below Salesforce's 120s)
	MaxConnections   int      `yaml:"max_connections" json:"max_connections,omitempty"`
	// CacheTTL overrides the cache TTL for this source (0: no cache);
	// SetCacheTTL per entity set, by set name.
	CacheTTL    *Duration           `yaml:"cache_ttl" json:"cache_ttl,omitempty"`
	SetCacheTTL map[string]Duration `yaml:"set_cache_ttl" json:"set_cache_ttl,omitempty"`
	// Count is how rows are counted for $count and @odata.count: exact
	// (default), estimated (the planner's estimate) or auto (exact below
	// CountThreshold estimated rows, default 1,000,000); SetCount per
	// entity set, by set name. Estimates need PostgreSQL or MySQL.
	Count          string            `yaml:"count" json:"count,omitempty"`
	CountThreshold int64             `yaml:"count_threshold" json:"count_threshold,omitempty"`
	SetCount       map[string]string `yaml:"set_count" json:"set_count,omitempty"`
	// ChangeRetention is how long a delta link stays good (default 3 days:
	// Salesforce polls at most every 30 minutes).
	ChangeRetention Duration `yaml:"change_retention" json:"change_retention,omitempty"`
	// Search names, per entity set, the properties $search reads (default:
	// every text property): on a big table, each one needs an index.
	Search map[string][]string `yaml:"search" json:"search,omitempty"`
	// Summaries are summary sets by name: entity sets whose rows are the
	// groups of a table, for reports (docs/salesforce.md).
	Summaries map[string]Summary `yaml:"summaries" json:"summaries,omitempty"`
	// Lookups makes columns Indirect Lookups in the Salesforce package:
	// table.column -> Object.Field__c, a unique External ID field of a
	// Salesforce object (External Lookups come from the foreign keys).
	Lookups map[string]string `yaml:"lookups" json:"lookups,omitempty"`
	// NameFields names, per entity set, the property that names its
	// records in Salesforce; "" for none (default: a unique text column
	// called like a name, title or code).
	NameFields map[string]string `yaml:"name_fields" json:"name_fields,omitempty"`
	// CalloutsPerHour is the hourly OData callout limit of the org that
	// calls the source (default 20,000, most editions'): the callout
	// budget is held against it.
	CalloutsPerHour int `yaml:"callouts_per_hour" json:"callouts_per_hour,omitempty"`
	// Replicas are PostgreSQL streaming standbys of the database that
	// serve reads (list views, searches, record pages, counts, reports):
	// DSNs without a password, which is the primary's, as the user is
	// where they name none. MaxReplicaLag takes a standby out of rotation
	// while it is further behind (default 5s).
	Replicas      []string `yaml:"replicas" json:"replicas,omitempty"`
	MaxReplicaLag Duration `yaml:"max_replica_lag" json:"max_replica_lag,omitempty"`
	// Via names the agent that reaches the database from inside its
	// private network (odatagw agent); the DSN then names the database
	// as the agent sees it.
	Via string `yaml:"via" json:"via,omitempty"`
	// Auth says who may call the source; with none, nobody may.
	Auth Auth `yaml:"auth" json:"auth"`
	// Expose false serves the source only through the services it is a
	// member of: its own service root answers 404 (default true).
	Expose *bool `yaml:"expose" json:"expose,omitempty"`
}

// Exposed says whether the source is served at its own root.
func (s Source) Exposed() bool { return s.Expose == nil || *s.Expose }

// Defaults and bounds of a source's settings.
const (
	DefaultPageSize         = 1000
	MaxPageSize             = 2000
	DefaultStatementTimeout = 60 * time.Second
	DefaultMaxConnections   = 10
	DefaultCacheTTL         = 30 * time.Second
	DefaultCountThreshold   = 1_000_000
	DefaultChangeRetention  = 72 * time.Hour
	DefaultCalloutsPerHour  = 20_000
)

// Invalid is a setting outside its bounds; Field names it as the file and
// the admin API spell it.
type Invalid struct{ Field, Message string }

func (e *Invalid) Error() string { return e.Field + ": " + e.Message }

// CountModes are the count policies a source or an entity set may name.
var CountModes = []string{"exact", "estimated", "auto"}

// Check holds a source's settings to their bounds, wherever they come
// from (flags, the file, the admin API): one rule, so that what the API
// refuses the file cannot slip in clamped.
func (s Source) Check() error {
	if s.PageSize < 0 || s.PageSize > MaxPageSize {
		return &Invalid{"page_size", fmt.Sprintf("%d is out of bounds: between 1 and %d (Salesforce's limit), or 0 for the default", s.PageSize, MaxPageSize)}
	}
	check := func(field, c string) error {
		if c != "" && !slices.Contains(CountModes, c) {
			return &Invalid{field, fmt.Sprintf("%q: use exact, estimated or auto", c)}
		}
		return nil
	}
	if err := check("count", s.Count); err != nil {
		return err
	}
	for set, c := range s.SetCount {
		if err := check("set_count", c); err != nil {
			err.(*Invalid).Message = set + ": " + err.(*Invalid).Message
			return err
		}
	}
	if s.Via != "" && !agentName.MatchString(s.Via) {
		return &Invalid{"via", fmt.Sprintf("%q cannot name an agent: letters, digits, - and _, starting with a letter, at most 63", s.Via)}
	}
	if s.Via != "" && strings.HasPrefix(strings.ToLower(s.DSN), "sqlite:") {
		return &Invalid{"via", "an agent carries PostgreSQL and MySQL connections; a SQLite file is opened where the gateway runs"}
	}
	if err := checkReplicas(s.DSN, s.Replicas); err != nil {
		return err
	}
	if s.MaxReplicaLag < 0 {
		return &Invalid{"max_replica_lag", "a lag cannot be negative"}
	}
	if err := checkSummaries(s.Summaries); err != nil {
		return err
	}
	for _, col := range slices.Sorted(maps.Keys(s.Lookups)) {
		if i := strings.LastIndex(col, "."); i <= 0 || i == len(col)-1 {
			return &Invalid{"lookups", fmt.Sprintf("%q does not name a column: write table.column", col)}
		}
		if err := metadata.CheckExternalIDField(s.Lookups[col]); err != nil {
			return &Invalid{"lookups", col + ": " + err.Error()}
		}
	}
	return nil
}

// checkReplicas holds standby DSNs to what serves them: PostgreSQL, no
// password of their own (a streaming standby has the primary's roles,
// and only the primary's password is sealed in the state store).
func checkReplicas(primary string, replicas []string) error {
	if len(replicas) == 0 {
		return nil
	}
	scheme, _, _ := strings.Cut(strings.ToLower(primary), ":")
	if scheme != "postgres" && scheme != "postgresql" {
		return &Invalid{"replicas", "read replicas are PostgreSQL streaming standbys: the source's dsn must be postgres://"}
	}
	seen := map[string]bool{}
	for _, r := range replicas {
		rs, _, url := strings.Cut(strings.ToLower(r), "://")
		if url && rs != "postgres" && rs != "postgresql" || !url && !strings.Contains(r, "=") {
			return &Invalid{"replicas", fmt.Sprintf("%q: write each standby as postgres://host:port/database (or host=... dbname=...)", dsn.Redact(r))}
		}
		if _, pw := dsn.Split(r); pw != "" {
			return &Invalid{"replicas", fmt.Sprintf("%s: leave the password out; a standby has the primary's users and the source's password is used", dsn.Redact(r))}
		}
		if seen[r] {
			return &Invalid{"replicas", fmt.Sprintf("%s is listed twice", r)}
		}
		seen[r] = true
	}
	return nil
}

// Resolved returns the settings with every default filled in: the
// configuration file's global value where the source sets none, else the
// gateway's own. It is the one place defaults are decided; a resolved
// Source resolves to itself.
func (s Source) Resolved(global File) Source {
	if s.PageSize <= 0 {
		s.PageSize = global.PageSize
	}
	if s.PageSize <= 0 {
		s.PageSize = DefaultPageSize
	}
	if s.StatementTimeout <= 0 {
		s.StatementTimeout = Duration(global.StatementTimeout)
	}
	if s.StatementTimeout <= 0 {
		s.StatementTimeout = Duration(DefaultStatementTimeout)
	}
	if s.MaxConnections <= 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	if s.ChangeRetention <= 0 {
		s.ChangeRetention = Duration(DefaultChangeRetention)
	}
	if s.Count == "" {
		s.Count = "exact"
	}
	if s.CountThreshold <= 0 {
		s.CountThreshold = DefaultCountThreshold
	}
	if s.CacheTTL == nil {
		ttl := Duration(DefaultCacheTTL)
		if global.Cache.TTL != nil {
			ttl = Duration(*global.Cache.TTL)
		}
		s.CacheTTL = &ttl
	}
	return s
}

// Auth is a source's access policy, Bearer how it checks OAuth 2.0
// tokens, Access who may read and write one set: auth owns these types,
// and the configuration file and the store hold them as they are.
type (
	Auth   = auth.Policy
	Bearer = auth.Bearer
	Access = auth.Access
)

// agentName is what an agent may be called (tunnel.ValidName's rule).
var agentName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// sourceName is what a source may be called: it becomes a URL path segment.
var sourceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// ValidSourceName reports whether name can name a source.
func ValidSourceName(name string) error {
	if !sourceName.MatchString(name) {
		return fmt.Errorf("source name %q must start with a letter and hold only letters, digits, '-' and '_' (at most 63)", name)
	}
	return nil
}

// Load reads a configuration file. Unknown keys are errors, so that a typo
// does not silently leave a setting at its default. ${VAR} is replaced by
// the environment variable, so secrets can stay out of the file.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	expanded := os.Expand(string(raw), func(v string) string {
		if v == "$" {
			return "$"
		}
		return os.Getenv(v)
	})
	var f File
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // an empty file is no settings
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, s := range f.Sources {
		if err := ValidSourceName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if s.DSN == "" {
			return nil, fmt.Errorf("%s: source %s has no dsn", path, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Services)) {
		if err := f.Services[name].Check(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, dup := f.Sources[name]; dup {
			return nil, fmt.Errorf("%s: %s names both a source and a service; a service root has one name", path, name)
		}
	}
	return &f, nil
}

// ParseSourceFlag reads NAME=DSN; whether a source kind serves the DSN is
// for the caller to ask.
func ParseSourceFlag(v string) (string, string, error) {
	name, dsn, ok := strings.Cut(v, "=")
	if !ok || dsn == "" {
		return "", "", fmt.Errorf("--source %q: write it as NAME=DSN, e.g. erp=postgres://user@localhost/erp", v)
	}
	if err := ValidSourceName(name); err != nil {
		return "", "", err
	}
	return name, dsn, nil
}
