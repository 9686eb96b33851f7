package mysql

import (
	"strings"
	"sync"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// dialect renders SQL for MySQL and MariaDB.
type dialect struct {
	// returning: the server has INSERT ... RETURNING (MariaDB)
	returning bool
}

var (
	_ sqlgen.WriteDialect     = dialect{}
	_ sqlgen.CaseFolding      = dialect{}
	_ sqlgen.PositionalParams = dialect{}
	_ sqlgen.Limits           = dialect{}
	_ sqlgen.IntDivision      = dialect{}
)

// quoted remembers quoted identifiers: a model names the same few tables
// and columns in every statement.
var quoted sync.Map

func (dialect) QuoteIdent(name string) string {
	if q, ok := quoted.Load(name); ok {
		return q.(string)
	}
	q := "`" + strings.ReplaceAll(name, "`", "``") + "`"
	quoted.Store(name, q)
	return q
}

// Table is the bare name: a source is one database, the DSN's.
func (d dialect) Table(_, name string) string { return d.QuoteIdent(name) }

func (d dialect) Column(p *metadata.Property) string { return d.QuoteIdent(p.Column) }

// Positional: placeholders are "?", bound in order (sqlgen.Bind).
func (dialect) Positional() {}

// Placeholder types the parameters whose text the server would otherwise
// compare as a double (decimals).
func (dialect) Placeholder(n int, t metadata.Type) string {
	if t == metadata.Decimal {
		return "CAST(" + sqlgen.Marker(n) + " AS DECIMAL(65,30))"
	}
	return sqlgen.Marker(n)
}

func (dialect) Param(v any, t metadata.Type) any {
	switch t {
	case metadata.Date:
		return v.(time.Time).Format("2006-01-02")
	case metadata.DateTimeOffset:
		return v.(time.Time).UTC().Format("2006-01-02 15:04:05.999999")
	case metadata.TimeOfDay:
		return time.Time{}.Add(v.(time.Duration)).Format("15:04:05.999999")
	}
	return v
}

func (dialect) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func (dialect) NullSafeEq(a, b string, negate bool) string {
	if negate {
		return "(NOT (" + a + " <=> " + b + "))"
	}
	return "(" + a + " <=> " + b + ")"
}

// NullsOrder is empty: MySQL sorts nulls first ascending and last
// descending, as OData does.
func (dialect) NullsOrder(bool) string { return "" }

// NoLimit is the largest LIMIT there is: MySQL has no "no limit".
func (dialect) NoLimit() string { return "18446744073709551615" }

func (dialect) DivBy(a, b string) string { return "(" + a + " / " + b + ")" }

func (dialect) IntDiv(a, b string) string { return "(" + a + " DIV " + b + ")" }

func (dialect) Mod(a, b string, _ metadata.Type) string { return "(" + a + " % " + b + ")" }

// Exact is text as its UTF-8 bytes: compared byte for byte, with no
// collation that ignores case, accents or trailing spaces.
func (dialect) Exact(x string) string { return "CAST(CONVERT(" + x + " USING utf8mb4) AS BINARY)" }

// exactChars is text under a binary collation: case-sensitive, counted in
// characters (for positions).
func exactChars(x string) string { return "(CONVERT(" + x + " USING utf8mb4) COLLATE utf8mb4_bin)" }

// Pattern is a LIKE pattern; backslash is LIKE's escape (the gateway's
// sessions never set NO_BACKSLASH_ESCAPES).
func (dialect) Pattern(f plan.Func, s string) string { return sqlgen.LikePattern(f, s) }

// Match is the collation's LIKE: the builder adds the exact test (see
// sqlgen.CaseFolding), this one lets an index find a prefix.
func (dialect) Match(a, p string) string { return "(" + a + " LIKE " + p + ")" }

func (d dialect) Call(f plan.Func, a []string, types []metadata.Type) (string, error) {
	switch f {
	case plan.FnContains:
		return "(LOCATE(" + d.Exact(a[1]) + ", " + d.Exact(a[0]) + ") > 0)", nil
	case plan.FnStartsWith:
		return "(LEFT(" + d.Exact(a[0]) + ", LENGTH(" + d.Exact(a[1]) + ")) = " + d.Exact(a[1]) + ")", nil
	case plan.FnEndsWith:
		return "(RIGHT(" + d.Exact(a[0]) + ", LENGTH(" + d.Exact(a[1]) + ")) = " + d.Exact(a[1]) + ")", nil
	case plan.FnIndexOf:
		return "(LOCATE(" + exactChars(a[1]) + ", " + exactChars(a[0]) + ") - 1)", nil
	case plan.FnLength:
		return "CHAR_LENGTH(" + a[0] + ")", nil
	case plan.FnConcat:
		return "CONCAT(" + a[0] + ", " + a[1] + ")", nil
	case plan.FnTrim:
		return "TRIM(" + a[0] + ")", nil
	case plan.FnYear:
		return "YEAR(" + a[0] + ")", nil
	case plan.FnMonth:
		return "MONTH(" + a[0] + ")", nil
	case plan.FnDay:
		return "DAYOFMONTH(" + a[0] + ")", nil
	case plan.FnHour:
		return "HOUR(" + a[0] + ")", nil
	case plan.FnMinute:
		return "MINUTE(" + a[0] + ")", nil
	case plan.FnSecond:
		return "SECOND(" + a[0] + ")", nil
	case plan.FnFractionalSeconds:
		return "(MICROSECOND(" + a[0] + ") / 1000000)", nil
	case plan.FnDate:
		return "DATE(" + a[0] + ")", nil
	case plan.FnTime:
		return "TIME(" + a[0] + ")", nil
	case plan.FnNow:
		return "UTC_TIMESTAMP(6)", nil
	case plan.FnRound:
		if types[0] == metadata.Double || types[0] == metadata.Single {
			// ROUND of a double may round half to even; OData rounds half
			// away from zero, as ROUND of a decimal does
			return "CAST(ROUND(CAST(" + a[0] + " AS DECIMAL(65,15))) AS DOUBLE)", nil
		}
	case plan.FnSearchMatch:
		// case ignored by lowering both sides, accents not: as ILIKE does
		return "(CAST(LOWER(CONVERT(" + a[0] + " USING utf8mb4)) AS BINARY) LIKE LOWER(" + a[1] + "))", nil
	}
	return "", sqlgen.ErrStandard
}

// Dialect returns the MySQL dialect, for SQL generation tests.
func Dialect() sqlgen.Dialect { return dialect{} }

func (dialect) AssignValue(_ *metadata.Property, placeholder string) string { return placeholder }

func (dialect) DefaultValue(*metadata.Property) string { return "DEFAULT" }

func (dialect) LockSuffix() string { return " FOR UPDATE" }

// Bucket: the session's time zone is UTC (Config), so a TIMESTAMP's date
// parts are taken there.
func (dialect) Bucket(unit, x string) string {
	year := "MAKEDATE(YEAR(" + x + "), 1)"
	switch unit {
	case "year":
		return year
	case "quarter":
		return "(" + year + " + INTERVAL (QUARTER(" + x + ") - 1) QUARTER)"
	case "month":
		return "(" + year + " + INTERVAL (MONTH(" + x + ") - 1) MONTH)"
	}
	return "DATE(" + x + ")"
}

func (dialect) BucketLabel(unit, x string) string {
	switch unit {
	case "year":
		return "DATE_FORMAT(" + x + ", '%Y')"
	case "quarter":
		return "CONCAT(YEAR(" + x + "), ' Q', QUARTER(" + x + "))"
	case "month":
		return "DATE_FORMAT(" + x + ", '%Y-%m')"
	}
	return "DATE_FORMAT(" + x + ", '%Y-%m-%d')"
}

func (dialect) Text(x string) string { return "CAST(" + x + " AS CHAR)" }

func (dialect) Concat(texts []string, sep string) string {
	return "CONCAT_WS('" + sep + "', " + strings.Join(texts, ", ") + ")"
}

// HavingReadsAggregates: MySQL and MariaDB resolve a HAVING's columns
// among the select list and the grouped columns only.
func (dialect) HavingReadsAggregates() {}
