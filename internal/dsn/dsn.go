// Package dsn handles the password inside a data source URL: taking it
// out to be sealed apart, putting it back to connect, and keeping it out
// of every message and log line.
package dsn

import (
	"net/url"
	"regexp"
	"strings"
)

// Split takes the password out of a DSN, so that the DSN can be
// shown and the password kept apart (sealed). It understands URL DSNs
// (user:password@host, ?password=) and PostgreSQL keyword/value DSNs
// (password=... or password='...').
func Split(dsn string) (withoutPassword, password string) {
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

// Join puts a password back into a DSN Split took it from.
func Join(dsn, password string) string {
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
	without, pw := Split(dsn)
	if pw == "" {
		return dsn
	}
	return without + " (password hidden)"
}

// Scrub removes the password of a DSN from a message, such as a driver's
// error that quotes the DSN it failed on.
func Scrub(msg, dsn string) string {
	_, pw := Split(dsn)
	if pw == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, pw, "xxxxx")
	// a message may quote the URL as written, with the password escaped
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, raw, ok := strings.Cut(u.User.String(), ":"); ok && raw != "" {
			msg = strings.ReplaceAll(msg, raw, "xxxxx")
		}
	}
	return msg
}
