package sqlite

import (
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// TimestampLayout is how timestamps are stored and compared: fixed width, so
// text order is time order.
const TimestampLayout = "2006-01-02 15:04:05.000"

type dialect struct{}

func (dialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (d dialect) Table(_, name string) string { return d.QuoteIdent(name) }

func (d dialect) Column(p *metadata.Property) string { return d.QuoteIdent(p.Column) }

func (dialect) Placeholder(n int, _ metadata.Type) string { return "?" + strconv.Itoa(n) }

func (dialect) Param(v any, t metadata.Type) any {
	switch t {
	case metadata.Boolean:
		if v.(bool) {
			return int64(1)
		}
		return int64(0)
	case metadata.Decimal:
		f, _ := strconv.ParseFloat(v.(string), 64)
		return f
	case metadata.Date:
		return v.(time.Time).Format("2006-01-02")
	case metadata.DateTimeOffset:
		return v.(time.Time).UTC().Format(TimestampLayout)
	case metadata.TimeOfDay:
		return time.Time{}.Add(v.(time.Duration)).Format("15:04:05")
	case metadata.Duration:
		return int64(v.(time.Duration))
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
		return "(" + a + " IS NOT " + b + ")"
	}
	return "(" + a + " IS " + b + ")"
}

// NullsOrder is empty: SQLite already sorts nulls first ascending and last descending.
func (dialect) NullsOrder(bool) string { return "" }

func (dialect) DivBy(a, b string) string { return "(CAST(" + a + " AS REAL) / " + b + ")" }

// globEscaper puts GLOB's pattern characters in brackets, where they stand
// for themselves.
var globEscaper = strings.NewReplacer("[", "[[]", "*", "[*]", "?", "[?]")

// Pattern is a GLOB pattern: SQLite's LIKE ignores the case of ASCII
// letters, GLOB does not, as OData's contains does not; and a GLOB prefix
// can use the column's index.
func (dialect) Pattern(f plan.Func, s string) string {
	return sqlgen.WildcardPattern(f, globEscaper.Replace(s), "*")
}

func (dialect) Match(a, p string) string { return "(" + a + " GLOB " + p + ")" }

func (dialect) Mod(a, b string, _ metadata.Type) string { return "(" + a + " % " + b + ")" }

func (dialect) Call(f plan.Func, a []string, types []metadata.Type) (string, error) {
	switch f {
	case plan.FnContains:
		return "(instr(" + a[0] + ", " + a[1] + ") > 0)", nil
	case plan.FnStartsWith:
		return "(substr(" + a[0] + ", 1, length(" + a[1] + ")) = " + a[1] + ")", nil
	case plan.FnEndsWith:
		return "(length(" + a[1] + ") = 0 OR substr(" + a[0] + ", -length(" + a[1] + ")) = " + a[1] + ")", nil
	case plan.FnIndexOf:
		return "(instr(" + a[0] + ", " + a[1] + ") - 1)", nil
	case plan.FnTrim:
		return "trim(" + a[0] + ")", nil
	case plan.FnYear:
		return "CAST(strftime('%Y', " + a[0] + ") AS INTEGER)", nil
	case plan.FnMonth:
		return "CAST(strftime('%m', " + a[0] + ") AS INTEGER)", nil
	case plan.FnDay:
		return "CAST(strftime('%d', " + a[0] + ") AS INTEGER)", nil
	case plan.FnHour:
		return "CAST(strftime('%H', " + a[0] + ") AS INTEGER)", nil
	case plan.FnMinute:
		return "CAST(strftime('%M', " + a[0] + ") AS INTEGER)", nil
	case plan.FnSecond:
		return "CAST(strftime('%S', " + a[0] + ") AS INTEGER)", nil
	case plan.FnFractionalSeconds:
		return "(CAST(strftime('%f', " + a[0] + ") AS REAL) - CAST(strftime('%S', " + a[0] + ") AS INTEGER))", nil
	case plan.FnDate:
		return "date(" + a[0] + ")", nil
	case plan.FnTime:
		return "time(" + a[0] + ")", nil
	case plan.FnNow:
		return "strftime('%Y-%m-%d %H:%M:%f', 'now')", nil
	case plan.FnSearchMatch:
		return "(" + a[0] + " LIKE " + a[1] + " ESCAPE '\\')", nil
	}
	return "", sqlgen.ErrStandard
}

// Dialect returns the SQLite dialect, for SQL generation tests.
func Dialect() sqlgen.Dialect { return dialect{} }

func (dialect) AssignValue(_ *metadata.Property, placeholder string) string { return placeholder }

// DefaultValue: SQLite has no DEFAULT in UPDATE; a replaced property that
// the body leaves out becomes null.
func (dialect) DefaultValue(*metadata.Property) string { return "NULL" }

// LockSuffix is empty: writes run in BEGIN IMMEDIATE transactions, which
// hold the database's write lock from the start.
func (dialect) LockSuffix() string { return "" }

// Bucket: date-times are kept as UTC text (TimestampLayout), which the
// date functions read.
func (dialect) Bucket(unit, x string) string {
	switch unit {
	case "year":
		return "date(" + x + ", 'start of year')"
	case "quarter":
		return "date(" + x + ", 'start of month', '-' || ((CAST(strftime('%m', " + x + ") AS INTEGER) - 1) % 3) || ' months')"
	case "month":
		return "date(" + x + ", 'start of month')"
	}
	return "date(" + x + ")"
}

func (dialect) BucketLabel(unit, x string) string {
	switch unit {
	case "year":
		return "strftime('%Y', " + x + ")"
	case "quarter":
		return "(strftime('%Y', " + x + ") || ' Q' || ((CAST(strftime('%m', " + x + ") AS INTEGER) + 2) / 3))"
	case "month":
		return "strftime('%Y-%m', " + x + ")"
	}
	return x
}

func (dialect) Text(x string) string { return "CAST(" + x + " AS TEXT)" }

func (dialect) Concat(texts []string, sep string) string {
	return "(" + strings.Join(texts, " || '"+sep+"' || ") + ")"
}
