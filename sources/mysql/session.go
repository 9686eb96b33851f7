package mysql

// How the gateway talks to MySQL and MariaDB outside of queries: the
// driver's settings for a mysql:// or mariadb:// URL, with the session
// every gateway connection runs in, and SQL scripts split into statements
// as the mysql client splits them. The test databases use them too.

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/odatagw/odatagw/internal/dsn"
)

// StrictMode is the SQL mode of every session: a value that does not fit
// is an error, not a truncation, and nothing changes how the gateway's SQL
// reads (no ANSI_QUOTES, PIPES_AS_CONCAT or NO_BACKSLASH_ESCAPES).
const StrictMode = "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"

// Config reads a mysql:// or mariadb:// URL into the driver's
// settings: user, password, host (port 3306 by default) or ?socket=path,
// the database, and the driver's own options as query parameters
// (tls=true, timeout=5s, ...). The gateway's session settings are added.
func Config(raw string) (*mysqldriver.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", dsn.Scrub(err.Error(), raw))
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("mysql: the URL must start with mysql:// or mariadb://")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("mysql: the URL names no database; write mysql://user:password@host:3306/database")
	}
	q := u.Query()
	addr := "tcp(" + hostPort(u) + ")"
	if sock := q.Get("socket"); sock != "" {
		addr = "unix(" + sock + ")"
		q.Del("socket")
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			user += ":" + pw
		}
	}
	text := user + "@" + addr + "/" + db
	if len(q) > 0 {
		text += "?" + q.Encode()
	}
	cfg, err := mysqldriver.ParseDSN(text)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", dsn.Scrub(err.Error(), raw))
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// one round trip per query: the driver binds the parameters itself,
	// escaping each for the connection's character set
	cfg.InterpolateParams = true
	if cfg.Collation == "" || !strings.HasPrefix(cfg.Collation, "utf8mb4") {
		cfg.Collation = "utf8mb4_general_ci"
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = StrictMode
	return cfg, nil
}

func hostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	return net.JoinHostPort(host, port)
}

// Statements splits a script as the mysql client does: at the delimiter,
// which a DELIMITER line changes.
func Statements(script string) []string {
	var out []string
	delim := ";"
	var cur strings.Builder
	for _, line := range strings.SplitAfter(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToUpper(trimmed), "DELIMITER ") {
			delim = strings.TrimSpace(trimmed[len("DELIMITER "):])
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, delim) {
			stmt := strings.TrimSpace(cur.String())
			stmt = strings.TrimSpace(strings.TrimSuffix(stmt, delim))
			if stmt != "" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if stmt := strings.TrimSpace(cur.String()); stmt != "" {
		out = append(out, stmt)
	}
	return out
}
