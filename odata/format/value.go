package format

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/odatagw/odatagw/metadata"
)

// AppendValue appends the JSON form of v, a value of Edm type t in the
// gateway's Go representation.
func AppendValue(b []byte, v any, t metadata.Type, ieee754 bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch t {
	case metadata.Boolean:
		return strconv.AppendBool(b, v.(bool))
	case metadata.Byte, metadata.Int16, metadata.Int32:
		return strconv.AppendInt(b, v.(int64), 10)
	case metadata.Int64:
		if ieee754 {
			b = append(b, '"')
			b = strconv.AppendInt(b, v.(int64), 10)
			return append(b, '"')
		}
		return strconv.AppendInt(b, v.(int64), 10)
	case metadata.Decimal:
		s := v.(string)
		if ieee754 || !isJSONNumber(s) {
			return AppendString(b, s)
		}
		return append(b, s...)
	case metadata.Single, metadata.Double:
		f := v.(float64)
		switch {
		case math.IsNaN(f):
			return append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(b, `"INF"`...)
		case math.IsInf(f, -1):
			return append(b, `"-INF"`...)
		}
		bits := 64
		if t == metadata.Single {
			bits = 32
		}
		return strconv.AppendFloat(b, f, 'g', -1, bits)
	case metadata.Date:
		b = append(b, '"')
		b = v.(time.Time).AppendFormat(b, "2006-01-02")
		return append(b, '"')
	case metadata.DateTimeOffset:
		b = append(b, '"')
		b = v.(time.Time).UTC().AppendFormat(b, "2006-01-02T15:04:05.999999999Z07:00")
		return append(b, '"')
	case metadata.TimeOfDay:
		b = append(b, '"')
		b = time.Time{}.Add(v.(time.Duration)).AppendFormat(b, "15:04:05.999999999")
		return append(b, '"')
	case metadata.Binary:
		b = append(b, '"')
		b = base64.RawURLEncoding.AppendEncode(b, v.([]byte))
		return append(b, '"')
	}
	switch x := v.(type) {
	case string:
		return AppendString(b, x)
	case time.Duration:
		return AppendString(b, FormatDuration(x))
	}
	return AppendString(b, "")
}

// FormatDuration writes a duration as xs:dayTimeDuration.
func FormatDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	s := "P" + strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "DT" +
		strconv.FormatInt(int64(d%(24*time.Hour)/time.Hour), 10) + "H" +
		strconv.FormatInt(int64(d%time.Hour/time.Minute), 10) + "M" +
		strconv.FormatFloat((d%time.Minute).Seconds(), 'f', -1, 64) + "S"
	if neg {
		return "-" + s
	}
	return s
}

// isJSONNumber reports whether a decimal's text is a valid JSON number.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && s[len(s)-1] != '.'
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	return append(AppendEscaped(b, s), '"')
}

// AppendEscaped appends s as the inside of a JSON string, without the
// quotes. Each character is escaped on its own, so a string may be written
// in parts: a cached answer leaves the service root out and writes it in
// at answer time.
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
