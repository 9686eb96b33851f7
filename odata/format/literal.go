package format

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

// Literal writes a value as an OData URL literal, for keys in URLs,
// nextLinks, messages and canonical forms.
func Literal(v any, t metadata.Type) string {
	if v == nil {
		return "null"
	}
	switch t {
	case metadata.String:
		return "'" + strings.ReplaceAll(v.(string), "'", "''") + "'"
	case metadata.Date:
		return v.(time.Time).Format("2006-01-02")
	case metadata.DateTimeOffset:
		return v.(time.Time).UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	case metadata.Binary:
		return "binary'" + base64.RawURLEncoding.EncodeToString(v.([]byte)) + "'"
	case metadata.Duration:
		return "duration'" + formatDuration(v.(time.Duration)) + "'"
	case metadata.TimeOfDay:
		d := v.(time.Duration)
		return time.Time{}.Add(d).Format("15:04:05.999999999")
	}
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "INF"
		case math.IsInf(x, -1):
			return "-INF"
		case math.IsNaN(x):
			return "NaN"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

func formatDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	s := fmt.Sprintf("P%dDT%dH%dM%sS", d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute,
		strconv.FormatFloat((d%time.Minute).Seconds(), 'f', -1, 64))
	if neg {
		s = "-" + s
	}
	return s
}
