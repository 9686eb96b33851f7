// Package convert turns what database drivers return into the gateway's Go
// representation of Edm values (see package plan), one function per target
// type, shared by the source kinds.
package convert

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

// To converts a driver value to type t. Unknown combinations are errors,
// never guesses. A value already of the right Go type comes back as the
// same interface value: boxing it again would allocate, for every column of
// every row.
func To(v any, t metadata.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	var out any
	var err error
	switch t {
	case metadata.Boolean:
		out, err = toBoolean(v)
	case metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64:
		out, err = toInteger(v)
	case metadata.Single, metadata.Double:
		out, err = toFloat(v)
	case metadata.Decimal:
		out, err = toDecimal(v)
	case metadata.String:
		out, err = toString(v)
	case metadata.GUID:
		out, err = toGUID(v)
	case metadata.Date:
		out, err = toDate(v)
	case metadata.DateTimeOffset:
		out, err = toDateTimeOffset(v)
	case metadata.TimeOfDay, metadata.Duration:
		out, err = toDuration(v)
	case metadata.Binary:
		out, err = toBinary(v)
	default:
		err = errUnhandled
	}
	if err == errUnhandled {
		return nil, fmt.Errorf("cannot read a %T from the database as %s", v, t)
	}
	return out, err
}

// errUnhandled is a converter's answer for a Go type it does not read.
var errUnhandled = errors.New("unhandled driver type")

func toBoolean(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return v, nil
	case int64:
		return x != 0, nil
	case string:
		return strconv.ParseBool(x)
	}
	return nil, errUnhandled
}

func toInteger(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) {
			return int64(x), nil
		}
	case string:
		return strconv.ParseInt(x, 10, 64)
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	}
	return nil, errUnhandled
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return v, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return nil, errUnhandled
}

func toDecimal(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return nil, errUnhandled
}

func toString(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return nil, errUnhandled
}

func toGUID(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return strings.ToLower(x), nil
	case [16]byte:
		return FormatUUID(x[:]), nil
	case []byte:
		if len(x) == 16 {
			return FormatUUID(x), nil
		}
		return strings.ToLower(string(x)), nil
	}
	return nil, errUnhandled
}

func toDate(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		y, m, d := x.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case string:
		return time.Parse("2006-01-02", x[:min(len(x), 10)])
	}
	return nil, errUnhandled
}

func toDateTimeOffset(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		return ParseTimestamp(x)
	}
	return nil, errUnhandled
}

func toDuration(v any) (any, error) {
	switch x := v.(type) {
	case time.Duration:
		return v, nil
	case int64:
		return time.Duration(x), nil
	}
	return nil, errUnhandled
}

func toBinary(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(x), nil
	}
	return nil, errUnhandled
}

// FormatUUID writes 16 bytes as 8-4-4-4-12 lower-case hex.
func FormatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseTimestamp reads the text forms SQLite and others use; a time without
// offset is UTC.
func ParseTimestamp(s string) (time.Time, error) {
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a timestamp", s)
}
