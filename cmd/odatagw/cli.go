// The command line: flags, environment variables and subcommands, turned
// into app settings.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/memlimit"
	"github.com/odatagw/odatagw/internal/replicas"
	"github.com/odatagw/odatagw/internal/tracing"
	"github.com/odatagw/odatagw/sources"
)

type cli struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
	Serve       serveCmd         `cmd:"" default:"withargs" help:"Serve data sources as OData services (the embedded demo when none is given). The default command."`
	Cache       cacheCmd         `cmd:"" help:"Manage the query caches of running gateways."`
	Source      sourceCmd        `cmd:"" help:"Manage the data sources of a running gateway through its admin API."`
	User        userCmd          `cmd:"" help:"Manage the users who may call sources with passwords or API tokens, through a running gateway's admin API."`
	Check       checkCmd         `cmd:"" help:"Print, without serving, what Salesforce would get from a database: each table's external object, key and field types, and every problem with what to do. Exits 1 when the report has errors (with --strict, warnings too), 2 on bad usage, 0 otherwise."`
	Track       trackCmd         `cmd:"" help:"Print, or run with --apply, the SQL that installs change tracking on PostgreSQL, MySQL/MariaDB or SQLite tables: a change log and row counts kept by triggers, whoever writes, for delta links and exact counts (see docs/change-tracking.md)."`
	Agent       agentCmd         `cmd:"" help:"Reach databases in private networks: an agent inside dials out to the gateway and carries its connections (docs/agent.md)."`
	Salesforce  salesforceCmd    `cmd:"" help:"The Salesforce side of a source as metadata: the package one deploy applies, and what it would change in an org."`
	Admin       adminCmd         `cmd:"" help:"The admin page of a running gateway."`
	Probe       probeCmd         `cmd:"" help:"Ask a URL (a gateway's /readyz or /healthz) and exit 0 when it answers 2xx: a health check for images without a shell or curl."`
	Version     versionCmd       `cmd:"" help:"Print the version."`
}

type adminCmd struct {
	Login adminLoginCmd `cmd:"" help:"Print a link that signs a browser in to the admin page: it works once, within 10 minutes, and opens a session of 12 hours (an HttpOnly cookie), so new tabs and bookmarked pages open signed in."`
}

type adminLoginCmd struct {
	adminFlags
}

func (c *adminLoginCmd) run(stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	link, err := cl.LoginLink(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Open this link in your browser within 10 minutes (it works once):")
	fmt.Fprintln(stdout, link)
	return nil
}

type probeCmd struct {
	URL     string        `arg:"" help:"The URL to ask, e.g. http://127.0.0.1:8080/readyz."`
	Timeout time.Duration `default:"5s" help:"How long to wait for the answer."`
}

// run asks the URL; only loopback and private health endpoints are meant.
func (p *probeCmd) run(stdout io.Writer) error {
	client := &http.Client{Timeout: p.Timeout}
	res, err := client.Get(p.URL)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", p.URL, res.Status)
	}
	fmt.Fprintln(stdout, res.Status)
	return nil
}

type trackCmd struct {
	DSN    string   `arg:"" help:"The database: postgres://..., mysql://... or sqlite:PATH."`
	Tables []string `arg:"" optional:"" help:"Tables to track (default: every table the gateway would serve)."`
	Schema []string `placeholder:"SCHEMA" help:"Schema to look for tables in; repeatable (default public)."`
	Apply  bool     `help:"Run the SQL instead of printing it, and tell running gateways to read the schema again."`
	Drop   bool     `help:"Remove tracking from the tables; with no table named, remove it all, change log included."`
}

type cacheCmd struct {
	Flush cacheFlushCmd `cmd:"" help:"Drop cached answers on every gateway that shares a Redis, at once."`
}

type cacheFlushCmd struct {
	Redis       string `env:"ODATAGW_REDIS" required:"" placeholder:"URL" help:"The Redis the gateways were started with (--redis)."`
	RedisPrefix string `env:"ODATAGW_REDIS_PREFIX" placeholder:"PREFIX" help:"Their redis_prefix, if set."`
	Source      string `placeholder:"NAME" help:"Only this data source (default: every source)."`
	Set         string `placeholder:"SET" help:"Only this entity set of --source (default: every set)."`
}

func (f *cacheFlushCmd) run(stdout io.Writer) error {
	if f.Set != "" && f.Source == "" {
		return fmt.Errorf("--set needs --source")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := replicas.PublishFlush(ctx, f.Redis, f.RedisPrefix, f.Source, f.Set); err != nil {
		return err
	}
	what := "every source"
	switch {
	case f.Set != "":
		what = f.Source + "/" + f.Set
	case f.Source != "":
		what = f.Source
	}
	fmt.Fprintln(stdout, "flushed", what, "on every listening gateway")
	return nil
}

type serveCmd struct {
	// made are the files and directories this start created (the state
	// store, the admin token file), removed again if the start fails
	made             []string
	Listen           string        `env:"ODATAGW_LISTEN" placeholder:"HOST:PORT" help:"Address to listen on (default 127.0.0.1:8080)."`
	Source           []string      `env:"ODATAGW_SOURCE" placeholder:"NAME=DSN" help:"A data source to serve at /odata/NAME/; repeatable. DSN is postgres://..., mysql://... (or mariadb://...) or sqlite:PATH. In the environment, separate several with commas. Callers need credentials configured in --config (auth) unless --anonymous is given; otherwise every request gets 401."`
	Anonymous        bool          `env:"ODATAGW_ANONYMOUS" help:"Let callers without credentials use the sources given by --source. Only where nobody else can reach the gateway (a proxy or client certificates restrict access); see docs/security.md."`
	AuditLog         string        `env:"ODATAGW_AUDIT_LOG" placeholder:"FILE" help:"Append the audit log (every write, every refused credential) to this file as JSON lines (default: the main log)."`
	Config           string        `env:"ODATAGW_CONFIG" type:"existingfile" placeholder:"FILE" help:"YAML configuration file with per-source options (schemas, include/exclude, keys, names, page size); see docs/configuration.md."`
	PublicURL        string        `env:"ODATAGW_PUBLIC_URL" placeholder:"URL" help:"URL clients reach the gateway at, e.g. https://odata.example.com, used in @odata.context and nextLinks (default: taken from each request)."`
	PageSize         int           `env:"ODATAGW_PAGE_SIZE" placeholder:"N" help:"Server-driven page size for every source (default 1000, at most 2000)."`
	StatementTimeout time.Duration `env:"ODATAGW_STATEMENT_TIMEOUT" placeholder:"DURATION" help:"Longest a database query may run before the request answers 504 (default 60s; Salesforce gives up at 120s)."`
	MaxBodyBytes     int           `env:"ODATAGW_MAX_BODY_BYTES" placeholder:"N" help:"Largest request body accepted, before and after gzip decompression; larger ones get 413 (default 8388608, Salesforce's 8 MB)."`
	CacheTTL         string        `env:"ODATAGW_CACHE_TTL" placeholder:"DURATION" help:"How long a cached answer is used (default 30s; 0 turns the query cache off). Writes through the gateway invalidate at once; changes made directly in the database show after at most this long."`
	CacheMaxBytes    int64         `env:"ODATAGW_CACHE_MAX_BYTES" placeholder:"N" help:"Bound of the query cache in bytes, for every source together (default: half of what the memory limit leaves after 64 MiB for the gateway itself; 268435456 when no limit is known). A bound that cannot fit in the memory limit is refused at start, saying what fits."`
	MemoryLimit      string        `env:"ODATAGW_MEMORY_LIMIT" placeholder:"SIZE" help:"Memory the gateway may use, e.g. 512MiB (default: the container's cgroup limit, or GOMEMLIMIT). The Go runtime's soft limit is set 10% below it, and the query cache's bound follows from it."`
	NoCacheHeader    bool          `env:"ODATAGW_NO_CACHE_HEADER" help:"Do not send the X-Cache response header."`
	Redis            string        `env:"ODATAGW_REDIS" placeholder:"URL" help:"Redis (redis://host:6379/0) through which replicas share write invalidations of their query caches. Without it each replica sees other replicas' writes after at most the cache TTL."`
	RedisPrefix      string        `env:"ODATAGW_REDIS_PREFIX" placeholder:"PREFIX" help:"Names the Redis channel, when several gateway deployments share one Redis (default odatagw)."`
	TLSCert          string        `env:"ODATAGW_TLS_CERT" name:"tls-cert" type:"existingfile" placeholder:"FILE" help:"Serve HTTPS with this PEM certificate (chain); reloaded when the file changes. TLS 1.2 or later."`
	TLSKey           string        `env:"ODATAGW_TLS_KEY" name:"tls-key" type:"existingfile" placeholder:"FILE" help:"The certificate's PEM private key."`
	TLSClientCA      string        `env:"ODATAGW_TLS_CLIENT_CA" name:"tls-client-ca" type:"existingfile" placeholder:"FILE" help:"Require client certificates signed by this PEM CA (Salesforce's two-way TLS)."`
	RateLimit        float64       `env:"ODATAGW_RATE_LIMIT" placeholder:"N" help:"Requests per second each client may send; more get 429 with Retry-After (default 0: no limit). All of an org's Salesforce traffic comes from few addresses: size it for that."`
	ClientIPHeader   string        `env:"ODATAGW_CLIENT_IP_HEADER" placeholder:"HEADER" help:"Header in which the trusted proxies give the caller's address (default X-Forwarded-For when --trusted-proxies is given)."`
	TrustedProxies   []string      `env:"ODATAGW_TRUSTED_PROXIES" placeholder:"CIDR" help:"Addresses (CIDRs) of the proxies in front, comma-separated or repeated. A request from one of them is the caller's whose address is rightmost in the header not of a trusted proxy; every other request is its connection's. Used by the rate limit, the credential throttles and the logs, on every listener."`
	QueueTimeout     time.Duration `env:"ODATAGW_QUEUE_TIMEOUT" placeholder:"DURATION" help:"How long a request waits for a free database connection before it answers 503 with Retry-After (default 30s)."`
	SkiptokenSecret  string        `env:"ODATAGW_SKIPTOKEN_SECRET" placeholder:"SECRET" help:"Secret that signs paging tokens; give every replica the same one (default: random at start, so nextLinks end with a restart)."`
	State            string        `env:"ODATAGW_STATE" placeholder:"PATH|URL" help:"Where registered data sources and users are kept: an SQLite file (default $XDG_STATE_HOME/odatagw/state.db, else ~/.local/state/odatagw/state.db), a postgres:// URL that replicas share, or none. DSN passwords in it are sealed with ODATAGW_SECRET_KEY; without that variable none can be saved through the admin API."`
	AdminListen      string        `env:"ODATAGW_ADMIN_LISTEN" default:"127.0.0.1:8081" placeholder:"HOST:PORT" help:"Address of the admin page and API, or off. Keep it private."`
	MetricsListen    string        `env:"ODATAGW_METRICS_LISTEN" placeholder:"HOST:PORT" help:"Also serve /metrics, /readyz (naming every source) and /healthz on this address, apart from the admin API (which serves them too). Keep it private."`
	DrainDelay       time.Duration `env:"ODATAGW_DRAIN_DELAY" placeholder:"DURATION" help:"On SIGTERM, report not ready for this long while still serving, so that load balancers stop sending first (default 0; 5s behind Kubernetes Services)."`
	DrainTimeout     time.Duration `env:"ODATAGW_DRAIN_TIMEOUT" placeholder:"DURATION" help:"On SIGTERM, how long requests in flight may still run once the listener is closed (default 30s)."`
	OTLPEndpoint     string        `name:"otlp-endpoint" env:"ODATAGW_OTLP_ENDPOINT" placeholder:"URL" help:"Send traces (request, plan, cache, database) over OTLP/HTTP to this collector, e.g. http://otel-collector:4318 (default: no traces)."`
	TraceSample      float64       `env:"ODATAGW_TRACE_SAMPLE" default:"1" placeholder:"RATIO" help:"Share of requests traced when --otlp-endpoint is set, 0 to 1 (a caller's sampled traceparent is always followed)."`
	AdminTokenFile   string        `env:"ODATAGW_ADMIN_TOKEN_FILE" placeholder:"FILE" help:"When ODATAGW_ADMIN_TOKEN is not set, the admin token is read from this file, created with a random token if missing (default: admin-token beside the state)."`
	LogLevel         string        `env:"ODATAGW_LOG_LEVEL" enum:"debug,info,warn,error," default:"" placeholder:"LEVEL" help:"debug, info, warn or error (default info; debug logs every request)."`
	LogFormat        string        `env:"ODATAGW_LOG_FORMAT" enum:"text,json," default:"" placeholder:"FORMAT" help:"text or json (default text)."`
}

type versionCmd struct{}

// run runs the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("odatagw"),
		kong.Description("odatagw serves database tables as OData 4.0/4.01 services that Salesforce Connect can sync and query. Run `odatagw serve` for the embedded demo at http://127.0.0.1:8080/odata/demo/."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code; panic(exitPanic{}) }),
		kong.Vars{"version": versionLine()},
	)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	code := func() (code int) {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(exitPanic); ok {
					code = exit
					return
				}
				panic(v)
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			parser.Errorf("%s", err)
			return 2
		}
		switch kctx.Command() {
		case "version":
			fmt.Fprintln(stdout, versionLine())
			return 0
		case "probe <url>":
			if err := c.Probe.run(stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "track <dsn>", "track <dsn> <tables>":
			if err := c.Track.run(stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "check <dsn>":
			if err := c.Check.run(stdinOrEmpty, stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "source list", "source add <name> <dsn>", "source update <name>", "source remove <name>", "source test <dsn>", "source reload <name>":
			if err := c.Source.run(kctx.Command(), stdinOrEmpty, stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "user list", "user add <name>", "user update <name>", "user remove <name>":
			if err := c.User.run(kctx.Command(), stdinOrEmpty, stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "agent run", "agent add <name>", "agent list", "agent rotate <name>", "agent remove <name>":
			if err := c.Agent.run(kctx.Command(), stdout, stderr); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "salesforce package <source>":
			if err := c.Salesforce.Package.run(stdout, stderr); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "salesforce diff <source> <dir>":
			err := c.Salesforce.Diff.run(stdout, stderr)
			var d differs
			switch {
			case errors.As(err, &d):
				return 1 // the differences are printed
			case err != nil:
				fmt.Fprintln(stderr, "odatagw:", err)
				return 2
			}
			return 0
		case "admin login":
			if err := c.Admin.Login.run(stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "cache flush":
			if err := c.Cache.Flush.run(stdout); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		case "serve":
			if err := c.Serve.run(stderr); err != nil {
				fmt.Fprintln(stderr, "odatagw:", err)
				return 1
			}
			return 0
		}
		return 2
	}()
	return code
}

type exitPanic struct{}

// counted says how many: "1 error", "2 errors".
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func (s *serveCmd) settings(stderr io.Writer) (app.Settings, error) {
	var file config.File
	if s.Config != "" {
		f, err := config.Load(s.Config)
		if err != nil {
			return app.Settings{}, err
		}
		file = *f
	}
	set := app.Settings{
		Version:         versionLine(),
		Listen:          pick(s.Listen, file.Listen),
		PublicURL:       pick(s.PublicURL, file.PublicURL),
		SkipTokenSecret: pick(s.SkiptokenSecret, file.SkipTokenSecret),
		Defaults:        file,
		Sources:         map[string]config.Source{},
		Logger:          s.logger(file, stderr),
		AuditLog:        s.AuditLog,
		MetricsListen:   s.MetricsListen,
		DrainDelay:      s.DrainDelay,
		DrainTimeout:    s.DrainTimeout,
	}
	if err := s.overrideDefaults(&set.Defaults); err != nil {
		return set, err
	}
	if limit := pick(s.MemoryLimit, file.MemoryLimit); limit != "" {
		n, err := memlimit.ParseSize(limit)
		if err != nil {
			return set, fmt.Errorf("--memory-limit %q: %w", limit, err)
		}
		set.MemoryLimit = n
	}
	for name, src := range file.Sources {
		set.Sources[name] = src
	}
	for _, v := range s.Source {
		name, dsn, err := config.ParseSourceFlag(v)
		if err != nil {
			return set, err
		}
		if _, err := sources.KindOf(dsn); err != nil {
			return set, fmt.Errorf("--source %s: %w", name, err)
		}
		src := set.Sources[name] // a flag may give the DSN of a source the file configures
		src.DSN = dsn
		if s.Anonymous {
			src.Auth.Anonymous = true
		}
		set.Sources[name] = src
	}
	return set, s.stateSettings(&set)
}

// pick is the flag's value when it is set, else the file's.
func pick(flag, fromFile string) string {
	if flag != "" {
		return flag
	}
	return fromFile
}

// overrideDefaults puts the flags (and their environment variables) over
// the configuration file's global settings.
func (s *serveCmd) overrideDefaults(d *config.File) error {
	if s.PageSize != 0 {
		d.PageSize = s.PageSize
	}
	if s.StatementTimeout != 0 {
		d.StatementTimeout = s.StatementTimeout
	}
	if s.MaxBodyBytes != 0 {
		d.MaxBodyBytes = s.MaxBodyBytes
	}
	if s.CacheTTL != "" {
		var ttl config.Duration
		if err := ttl.UnmarshalText([]byte(s.CacheTTL)); err != nil {
			return fmt.Errorf("--cache-ttl %q: write a duration such as 30s, or 0 to turn the cache off", s.CacheTTL)
		}
		t := ttl.D()
		d.Cache.TTL = &t
	}
	if s.Redis != "" {
		d.Redis = s.Redis
	}
	if s.RedisPrefix != "" {
		d.RedisPrefix = s.RedisPrefix
	}
	if s.TLSCert != "" || s.TLSKey != "" {
		d.TLS.Cert, d.TLS.Key = s.TLSCert, s.TLSKey
	}
	if s.TLSClientCA != "" {
		d.TLS.ClientCA = s.TLSClientCA
	}
	if s.RateLimit != 0 {
		d.Limits.RateLimit = s.RateLimit
	}
	if s.ClientIPHeader != "" {
		d.Limits.ClientIPHeader = s.ClientIPHeader
	}
	if len(s.TrustedProxies) > 0 {
		d.Limits.TrustedProxies = s.TrustedProxies
	}
	if s.QueueTimeout != 0 {
		d.Limits.QueueTimeout = s.QueueTimeout
	}
	if s.CacheMaxBytes != 0 {
		d.Cache.MaxBytes = s.CacheMaxBytes
	}
	if s.NoCacheHeader {
		off := false
		d.Cache.Header = &off
	}
	return nil
}

// logger writes to stderr at the level and in the format the flags, or
// else the file, ask for.
func (s *serveCmd) logger(file config.File, stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(pick(s.LogLevel, file.LogLevel)) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	hopts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(pick(s.LogFormat, file.LogFormat)) == "json" {
		return slog.New(slog.NewJSONHandler(stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(stderr, hopts))
}

// stateSettings fills the state store, secret key and admin listener.
// The key that seals DSN passwords comes from the operator
// (ODATAGW_SECRET_KEY) and is never written down by the gateway. Without
// ODATAGW_ADMIN_TOKEN the admin token is kept in a file readable by its
// owner only, which `odatagw source` reads.
func (s *serveCmd) stateSettings(set *app.Settings) error {
	state := s.State
	switch state {
	case "":
		state = defaultState()
	case "none", "off":
		state = ""
	}
	set.State = state
	if isFileState(state) {
		file := strings.TrimPrefix(state, "sqlite:")
		s.made = append(s.made, missingDirs(filepath.Dir(file))...)
		s.made = append(s.made, notYet(file, file+"-wal", file+"-shm", file+"-journal")...)
	}
	set.SecretKey = os.Getenv("ODATAGW_SECRET_KEY")
	if s.AdminListen == "off" || s.AdminListen == "" {
		return nil
	}
	set.AdminListen = s.AdminListen
	set.AdminToken = os.Getenv("ODATAGW_ADMIN_TOKEN")
	if set.AdminToken == "" {
		path := s.AdminTokenFile
		if path == "" {
			path = filepath.Join(filesDir(state), "admin-token")
		}
		s.made = append(s.made, missingDirs(filepath.Dir(path))...)
		tok, created, err := secretFile(path)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		if created {
			s.made = append(s.made, path)
		}
		set.AdminToken = tok
		if created {
			set.Logger.Info("made an admin token; sign in to the admin page with the content of this file", "token_file", path)
		} else {
			set.Logger.Info("admin token read from file", "token_file", path)
		}
	}
	return nil
}

func configDefaults() config.File { return config.File{} }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (s *serveCmd) run(stderr io.Writer) error {
	set, err := s.settings(stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s.OTLPEndpoint != "" {
		shutdown, err := tracing.Setup(s.OTLPEndpoint, s.TraceSample, version())
		if err != nil {
			return err
		}
		defer func() {
			flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shutdown(flush)
		}()
		set.Logger.Info("sending traces", "otlp_endpoint", s.OTLPEndpoint, "sample", s.TraceSample)
	}
	// the ports first: one in use is said at once, not after the demo is
	// built or every database read
	bound, err := app.Bind(set)
	if err != nil {
		s.takeBack()
		return err
	}
	defer bound.Close()
	set.Bound = bound
	g, err := app.Open(ctx, set)
	if err != nil {
		s.takeBack()
		return err
	}
	defer g.Close()
	return g.Serve(ctx, nil)
}

// notYet returns those of paths that do not exist yet.
func notYet(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// missingDirs returns dir and those of its parents that do not exist yet,
// outermost first: what os.MkdirAll(dir) would create.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); len(notYet(d)) == 1; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
		if filepath.Dir(d) == d {
			break
		}
	}
	return out
}

// takeBack removes what a failed start created, newest first, so that it
// leaves no state behind (a directory only while empty).
func (s *serveCmd) takeBack() {
	for _, p := range slices.Backward(s.made) {
		os.Remove(p)
	}
}
