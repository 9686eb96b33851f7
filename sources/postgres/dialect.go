package postgres

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// dialect renders SQL for PostgreSQL. Properties served in their text form
// (json, arrays, intervals, ...) are read with a ::text cast.
type dialect struct{}

// quoted remembers quoted identifiers: a model names the same few tables
// and columns in every statement.
var quoted sync.Map

func (dialect) QuoteIdent(name string) string {
	if q, ok := quoted.Load(name); ok {
		return q.(string)
	}
	q := pgx.Identifier{name}.Sanitize()
	quoted.Store(name, q)
	return q
}

func (d dialect) Table(schema, name string) string {
	if schema == "" {
		return d.QuoteIdent(name)
	}
	return d.QuoteIdent(schema) + "." + d.QuoteIdent(name)
}

func (d dialect) Column(p *metadata.Property) string {
	c := d.QuoteIdent(p.Column)
	if p.TextForm {
		return c + "::text"
	}
	return c
}

// paramCasts types each parameter, so that PostgreSQL never has to guess
// and indexes on the compared column stay usable.
var paramCasts = map[metadata.Type]string{
	metadata.Boolean: "boolean", metadata.Byte: "smallint", metadata.Int16: "smallint",
	metadata.Int32: "integer", metadata.Int64: "bigint", metadata.Decimal: "numeric",
	metadata.Single: "real", metadata.Double: "double precision", metadata.String: "text",
	metadata.GUID: "uuid", metadata.Date: "date", metadata.DateTimeOffset: "timestamptz",
	metadata.TimeOfDay: "time", metadata.Duration: "interval", metadata.Binary: "bytea",
}

func (dialect) Placeholder(n int, t metadata.Type) string {
	return "$" + strconv.Itoa(n) + "::" + paramCasts[t]
}

func (dialect) Param(v any, t metadata.Type) any {
	switch t {
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
		return "(" + a + " IS DISTINCT FROM " + b + ")"
	}
	return "(" + a + " IS NOT DISTINCT FROM " + b + ")"
}

// NullsOrder: PostgreSQL sorts nulls last ascending; OData wants them first.
func (dialect) NullsOrder(desc bool) string {
	if desc {
		return " NULLS LAST"
	}
	return " NULLS FIRST"
}

func (dialect) DivBy(a, b string) string { return "(" + a + "::numeric / " + b + ")" }

// Pattern is a LIKE pattern; backslash is LIKE's escape in PostgreSQL.
func (dialect) Pattern(f plan.Func, s string) string { return sqlgen.LikePattern(f, s) }

func (dialect) Match(a, p string) string { return "(" + a + " LIKE " + p + ")" }

func (dialect) ArrayPlaceholder(n int, t metadata.Type) string {
	return "$" + strconv.Itoa(n) + "::" + paramCasts[t] + "[]"
}

func (dialect) Mod(a, b string, _ metadata.Type) string { return "(" + a + " % " + b + ")" }

func extract(field, a string) string {
	return "CAST(EXTRACT(" + field + " FROM " + a + ") AS integer)"
}

func (dialect) Call(f plan.Func, a []string, types []metadata.Type) (string, error) {
	switch f {
	case plan.FnContains:
		return "(strpos(" + a[0] + ", " + a[1] + ") > 0)", nil
	case plan.FnStartsWith:
		return "starts_with(" + a[0] + ", " + a[1] + ")", nil
	case plan.FnEndsWith:
		return "(right(" + a[0] + ", length(" + a[1] + ")) = " + a[1] + ")", nil
	case plan.FnIndexOf:
		return "(strpos(" + a[0] + ", " + a[1] + ") - 1)", nil
	case plan.FnTrim:
		return "btrim(" + a[0] + ")", nil
	case plan.FnYear:
		return extract("YEAR", a[0]), nil
	case plan.FnMonth:
		return extract("MONTH", a[0]), nil
	case plan.FnDay:
		return extract("DAY", a[0]), nil
	case plan.FnHour:
		return extract("HOUR", a[0]), nil
	case plan.FnMinute:
		return extract("MINUTE", a[0]), nil
	case plan.FnSecond:
		return "CAST(floor(EXTRACT(SECOND FROM " + a[0] + ")) AS integer)", nil
	case plan.FnFractionalSeconds:
		return "(EXTRACT(SECOND FROM " + a[0] + ") - floor(EXTRACT(SECOND FROM " + a[0] + ")))", nil
	case plan.FnDate:
		return "CAST(" + a[0] + " AS date)", nil
	case plan.FnTime:
		return "CAST(" + a[0] + " AS time)", nil
	case plan.FnNow:
		return "now()", nil
	case plan.FnRound:
		if types[0] == metadata.Double || types[0] == metadata.Single {
			// round(double precision) rounds half to even; OData rounds half away from zero
			return "CAST(round(" + a[0] + "::numeric) AS double precision)", nil
		}
	case plan.FnSearchMatch:
		return "(" + a[0] + " ILIKE " + a[1] + ")", nil
	}
	return "", sqlgen.ErrStandard
}

// Dialect returns the PostgreSQL dialect for a model whose properties are
// all read as they are, for SQL generation tests.
func Dialect() sqlgen.Dialect { return dialect{} }

// AssignValue casts a text-form value to the column's own type, so that a
// json, enum or array column accepts it.
func (dialect) AssignValue(p *metadata.Property, placeholder string) string {
	if p.TextForm {
		return placeholder + "::" + p.DBType
	}
	return placeholder
}

func (dialect) DefaultValue(*metadata.Property) string { return "DEFAULT" }

func (dialect) LockSuffix() string { return " FOR UPDATE" }

// Bucket: the session's time zone is UTC (OpenSource), so date_trunc
// and ::date of a timestamptz take its date there.
func (dialect) Bucket(unit, x string) string { return "date_trunc('" + unit + "', " + x + ")::date" }

var bucketFormats = map[string]string{"year": "YYYY", "quarter": `YYYY "Q"Q`, "month": "YYYY-MM", "day": "YYYY-MM-DD"}

func (dialect) BucketLabel(unit, x string) string {
	return "to_char(" + x + ", '" + bucketFormats[unit] + "')"
}

func (dialect) Text(x string) string { return x + "::text" }

func (dialect) Concat(texts []string, sep string) string {
	return strings.Join(texts, " || '"+sep+"' || ")
}
