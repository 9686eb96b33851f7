package registry

import (
	"net/url"
	"regexp"
	"strings"
)

// SplitPassword takes the password out of a DSN, so that the DSN can be
// shown and the password kept apart (sealed). It understands URL DSNs
// (user:password@host, ?password=) and PostgreSQL keyword/value DSNs
// (password=... or password='...').
func SplitPassword(dsn string) (withoutPassword, password string) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn, ""
		}
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				password = pw
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		if pw := q.Get("password"); pw != "" {
			password = pw
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String(), password
	}
	if m := keywordPassword.FindStringSubmatchIndex(dsn); m != nil {
		raw := dsn[m[2]:m[3]]
		if strings.HasPrefix(raw, "'") {
			raw = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(strings.Trim(raw, "'"))
		}
		rest := strings.TrimSpace(dsn[:m[0]] + " " + dsn[m[1]:])
		return strings.Join(strings.Fields(rest), " "), raw
	}
	return dsn, ""
}

// keywordPassword finds password=value in a keyword/value DSN; the value
// is quoted ('...' with \' and \\ escapes) or runs to the next space.
var keywordPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// JoinPassword puts a password back into a DSN SplitPassword took it from.
func JoinPassword(dsn, password string) string {
	if password == "" {
		return dsn
	}
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		user := ""
		if u.User != nil {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, password)
		return u.String()
	}
	quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password) + "'"
	return strings.TrimSpace(dsn + " password=" + quoted)
}

// Redact is the DSN with its password replaced, fit for a log line or an
// answer.
func Redact(dsn string) string {
	without, pw := SplitPassword(dsn)
	if pw == "" {
		return dsn
	}
	return without + " (password hidden)"
}
