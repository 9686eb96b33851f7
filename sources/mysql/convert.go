package mysql

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources/convert"
)

// toEdm reads what the driver returns (text for most types, int64 and
// float64 for numbers, time.Time for dates) as Edm values; the shared
// converter does the rest.
func toEdm(v any, t metadata.Type) (any, error) {
	if u, ok := v.(uint64); ok { // bigint unsigned
		if t == metadata.Decimal || u > math.MaxInt64 {
			return convert.To(strconv.FormatUint(u, 10), t)
		}
		v = int64(u)
	}
	b, isBytes := v.([]byte)
	if !isBytes {
		return convert.To(v, t)
	}
	switch t {
	case metadata.Boolean:
		if len(b) == 1 && (b[0] == 0 || b[0] == 1) { // bit(1)
			return b[0] == 1, nil
		}
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n != 0, err
	case metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64:
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n, nil
		}
		return bitValue(b), nil // bit(n): big-endian bytes
	case metadata.Single, metadata.Double:
		return strconv.ParseFloat(string(b), 64)
	case metadata.TimeOfDay:
		return timeOfDay(string(b))
	case metadata.Date, metadata.DateTimeOffset:
		return convert.To(string(b), t)
	}
	return convert.To(b, t)
}

func bitValue(b []byte) int64 {
	var buf [8]byte
	copy(buf[8-min(len(b), 8):], b[max(len(b)-8, 0):])
	return int64(binary.BigEndian.Uint64(buf[:]))
}

// timeOfDay reads "hh:mm:ss[.ffffff]".
func timeOfDay(s string) (time.Duration, error) {
	clock, frac, _ := strings.Cut(s, ".")
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		return 0, err
	}
	d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	if frac != "" {
		n, err := strconv.Atoi((frac + "000000000")[:9])
		if err != nil {
			return 0, err
		}
		d += time.Duration(n)
	}
	return d, nil
}
