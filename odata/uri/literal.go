package uri

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

// guidLen returns 36 when s starts with a GUID (8-4-4-4-12 hex digits) that
// is not followed by a name character, else 0.
func guidLen(s string) int {
	if len(s) < 36 {
		return 0
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return 0
			}
		default:
			if !isHex(s[i]) {
				return 0
			}
		}
	}
	if len(s) > 36 && (isIdentStart(s[36:]) || isDigit(s[36])) {
		return 0
	}
	return 36
}

func digitsLen(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j - i
}

// temporalOrNumberLen measures the longest date-time, date, time-of-day or
// number at the start of s; the text is validated afterwards.
func temporalOrNumberLen(s string) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
		if hasPrefixAt(s, i, "INF") {
			return i + 3
		}
	}
	d := digitsLen(s, i)
	if d == 0 {
		return 0
	}
	// date: year "-" month "-" day
	if d >= 4 && len(s) >= i+d+6 && s[i+d] == '-' && digitsLen(s, i+d+1) == 2 && s[i+d+3] == '-' && digitsLen(s, i+d+4) == 2 {
		j := i + d + 6
		if j < len(s) && s[j] == 'T' {
			if k := timeLen(s, j+1); k > 0 {
				j += 1 + k
				switch {
				case j < len(s) && s[j] == 'Z':
					return j + 1
				case j < len(s) && (s[j] == '+' || s[j] == '-') && len(s) >= j+6 && digitsLen(s, j+1) == 2 && s[j+3] == ':' && digitsLen(s, j+4) == 2:
					return j + 6
				}
				return j // missing offset: rejected by validation
			}
		}
		return j
	}
	if i == 0 && d == 2 && len(s) > 2 && s[2] == ':' {
		return timeLen(s, 0)
	}
	j := i + d
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		j += 1 + digitsLen(s, j+1)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if n := digitsLen(s, k); n > 0 {
			j = k + n
		}
	}
	return j
}

// timeLen measures hh:mm[:ss[.fff]] at s[i:].
func timeLen(s string, i int) int {
	if len(s) < i+5 || digitsLen(s, i) != 2 || s[i+2] != ':' || digitsLen(s, i+3) != 2 {
		return 0
	}
	j := i + 5
	if j+2 < len(s) && s[j] == ':' && digitsLen(s, j+1) == 2 {
		j += 3
		if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			j += 1 + digitsLen(s, j+1)
		}
	}
	return j - i
}

// parseLiteralText parses a complete untyped literal: null, true, false,
// numbers, INF, NaN, guid, date, date-time, time of day.
func parseLiteralText(text string) (*Literal, error) {
	lit := &Literal{Text: text}
	switch text {
	case "null":
		lit.Kind = LitNull
		return lit, nil
	case "true", "false":
		lit.Kind, lit.Value = LitBoolean, text == "true"
		return lit, nil
	case "INF":
		lit.Kind, lit.Value = LitDouble, math.Inf(1)
		return lit, nil
	case "-INF":
		lit.Kind, lit.Value = LitDouble, math.Inf(-1)
		return lit, nil
	case "NaN":
		lit.Kind, lit.Value = LitDouble, math.NaN()
		return lit, nil
	}
	if guidLen(text) == 36 && len(text) == 36 {
		lit.Kind, lit.Value = LitGUID, strings.ToLower(text)
		return lit, nil
	}
	if t, ok := parseDateTimeOffset(text); ok {
		lit.Kind, lit.Value = LitDateTime, t
		return lit, nil
	}
	if t, ok := parseDate(text); ok {
		lit.Kind, lit.Value = LitDate, t
		return lit, nil
	}
	if strings.Contains(text, ":") {
		if d, ok := parseTimeOfDay(text); ok {
			lit.Kind, lit.Value = LitTimeOfDay, d
			return lit, nil
		}
		if strings.Contains(text, "T") {
			return nil, errors.New("malformed date-time " + text + "; write it as 2024-01-31T13:45:00Z")
		}
		return nil, errors.New("malformed time of day " + text + "; write it as 13:45:00")
	}
	if strings.Count(text, "-") >= 2 && !strings.ContainsAny(text, "eE") {
		return nil, errors.New("malformed date " + text + "; write it as 2024-01-31")
	}
	return parseNumber(text)
}

func parseNumber(text string) (*Literal, error) {
	lit := &Literal{Text: text}
	if !strings.ContainsAny(text, ".eE") {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			lit.Kind, lit.Value = LitInt, n
			return lit, nil
		}
		// too large for Int64: an exact decimal
		lit.Kind, lit.Value = LitDecimal, strings.TrimPrefix(text, "+")
		return lit, nil
	}
	if !strings.ContainsAny(text, "eE") {
		lit.Kind, lit.Value = LitDecimal, text
		return lit, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, errors.New("malformed number " + text)
	}
	if math.IsInf(f, 0) {
		return nil, errors.New("number " + text + " is out of range for Edm.Double")
	}
	lit.Kind, lit.Value = LitDouble, f
	return lit, nil
}

func atoiN(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
		if n > 1e9 {
			return 0, false
		}
	}
	return n, true
}

// parseDate reads year-month-day with the ABNF's ranges.
func parseDate(s string) (time.Time, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) < 4 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return time.Time{}, false
	}
	if len(parts[0]) > 4 && parts[0][0] == '0' {
		return time.Time{}, false
	}
	y, ok1 := atoiN(parts[0])
	m, ok2 := atoiN(parts[1])
	d, ok3 := atoiN(parts[2])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	if neg {
		y = -y
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 2023-02-30
		return time.Time{}, false
	}
	return t, true
}

// parseTimeOfDay reads hh:mm[:ss[.fraction]] with hour 00-23.
func parseTimeOfDay(s string) (TimeOfDay, bool) {
	if timeLen(s, 0) != len(s) {
		return 0, false
	}
	h, _ := atoiN(s[0:2])
	m, _ := atoiN(s[3:5])
	if h > 23 || m > 59 {
		return 0, false
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if len(s) > 5 {
		sec, _ := atoiN(s[6:8])
		if sec > 59 {
			return 0, false
		}
		d += time.Duration(sec) * time.Second
		if len(s) > 9 {
			frac := s[9:]
			if len(frac) > 12 {
				return 0, false
			}
			for len(frac) < 9 {
				frac += "0"
			}
			ns, _ := atoiN(frac[:9])
			d += time.Duration(ns)
		}
	}
	return TimeOfDay(d), true
}

// parseDateTimeOffset reads date "T" time ("Z" / sign hh:mm).
func parseDateTimeOffset(s string) (time.Time, bool) {
	date, rest, ok := strings.Cut(s, "T")
	if !ok {
		return time.Time{}, false
	}
	day, ok := parseDate(date)
	if !ok {
		return time.Time{}, false
	}
	var clock, zone string
	switch {
	case strings.HasSuffix(rest, "Z"):
		clock, zone = rest[:len(rest)-1], "Z"
	case len(rest) > 6 && (rest[len(rest)-6] == '+' || rest[len(rest)-6] == '-'):
		clock, zone = rest[:len(rest)-6], rest[len(rest)-6:]
	default:
		return time.Time{}, false
	}
	tod, ok := parseTimeOfDay(clock)
	if !ok {
		return time.Time{}, false
	}
	loc := time.UTC
	if zone != "Z" {
		zh, ok1 := atoiN(zone[1:3])
		zm, ok2 := atoiN(zone[4:6])
		if !ok1 || !ok2 || zone[3] != ':' || zh > 23 || zm > 59 {
			return time.Time{}, false
		}
		off := zh*3600 + zm*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	y, m, d := day.Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, loc).Add(time.Duration(tod))
	return t, true
}

// parseDuration reads [-]P[nD][T[nH][nM][n[.n]S]].
func parseDuration(s string) (time.Duration, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 2 {
		return 0, false
	}
	s = s[1:]
	var total float64
	inTime := false
	seen := false
	order := "D"
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime || len(s) == 1 {
				return 0, false
			}
			inTime, order = true, "HMS"
			s = s[1:]
			continue
		}
		j := 0
		for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
			j++
		}
		if j == 0 || j >= len(s) {
			return 0, false
		}
		num, unit := s[:j], s[j]
		idx := strings.IndexByte(order, unit)
		if idx < 0 || (strings.Contains(num, ".") && unit != 'S') || (!inTime && unit != 'D') {
			return 0, false
		}
		order = order[idx+1:]
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, false
		}
		mult := map[byte]float64{'D': 86400, 'H': 3600, 'M': 60, 'S': 1}[unit]
		total += f * mult
		seen = true
		s = s[j+1:]
	}
	if !seen || total > float64(math.MaxInt64)/1e9 {
		return 0, false
	}
	d := time.Duration(total * 1e9)
	if neg {
		d = -d
	}
	return d, true
}

// decodeBinary reads base64url, padded or not; standard base64 is accepted too.
func decodeBinary(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
