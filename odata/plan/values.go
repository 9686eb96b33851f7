package plan

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/uri"
)

// Go representation of Edm values, shared by plans, sources and writers:
//
//	Boolean                   bool
//	Byte, Int16, Int32, Int64 int64
//	Single, Double            float64
//	Decimal                   string (exact decimal text)
//	String                    string
//	Guid                      string (lower case, 8-4-4-4-12)
//	Date                      time.Time at 00:00 UTC
//	DateTimeOffset            time.Time in UTC
//	TimeOfDay, Duration       time.Duration
//	Binary                    []byte

// constFromLiteral types a literal by how it is written.
func constFromLiteral(l *uri.Literal) *Const {
	switch l.Kind {
	case uri.LitNull:
		return &Const{}
	case uri.LitBoolean:
		return &Const{Value: l.Value, T: metadata.Boolean}
	case uri.LitInt:
		n := l.Value.(int64)
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return &Const{Value: n, T: metadata.Int32}
		}
		return &Const{Value: n, T: metadata.Int64}
	case uri.LitDecimal:
		return &Const{Value: l.Value, T: metadata.Decimal}
	case uri.LitDouble:
		return &Const{Value: l.Value, T: metadata.Double}
	case uri.LitString:
		return &Const{Value: l.Value, T: metadata.String}
	case uri.LitDate:
		return &Const{Value: l.Value, T: metadata.Date}
	case uri.LitDateTime:
		return &Const{Value: l.Value.(time.Time).UTC(), T: metadata.DateTimeOffset}
	case uri.LitTimeOfDay:
		return &Const{Value: time.Duration(l.Value.(uri.TimeOfDay)), T: metadata.TimeOfDay}
	case uri.LitGUID:
		return &Const{Value: l.Value, T: metadata.GUID}
	case uri.LitDuration:
		return &Const{Value: l.Value, T: metadata.Duration}
	case uri.LitBinary:
		return &Const{Value: l.Value, T: metadata.Binary}
	}
	panic(fmt.Sprintf("unknown literal kind %v", l.Kind))
}

// integer ranges of the integral types
var intRange = map[metadata.Type][2]int64{
	metadata.Byte:  {0, math.MaxUint8},
	metadata.Int16: {math.MinInt16, math.MaxInt16},
	metadata.Int32: {math.MinInt32, math.MaxInt32},
	metadata.Int64: {math.MinInt64, math.MaxInt64},
}

// convertConst converts a constant to the type of the property it is
// compared with or assigned to, refusing what would change its meaning.
func convertConst(c *Const, to metadata.Type) (*Const, error) {
	if c.Value == nil || c.T == to {
		return &Const{Value: c.Value, T: to}, nil
	}
	switch {
	case to.IsInteger() && c.T.IsInteger():
		n := c.Value.(int64)
		r := intRange[to]
		if n < r[0] || n > r[1] {
			return nil, fmt.Errorf("%d is out of range for %s", n, to)
		}
		return &Const{Value: n, T: to}, nil
	case to == metadata.Decimal && c.T.IsInteger():
		return &Const{Value: strconv.FormatInt(c.Value.(int64), 10), T: to}, nil
	case to == metadata.Decimal && c.T == metadata.Double:
		f := c.Value.(float64)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%v is not a decimal number", f)
		}
		return &Const{Value: strconv.FormatFloat(f, 'f', -1, 64), T: to}, nil
	case (to == metadata.Double || to == metadata.Single) && c.T.IsInteger():
		return &Const{Value: float64(c.Value.(int64)), T: to}, nil
	case (to == metadata.Double || to == metadata.Single) && c.T == metadata.Decimal:
		f, err := strconv.ParseFloat(c.Value.(string), 64)
		if err != nil {
			return nil, err
		}
		return &Const{Value: f, T: to}, nil
	case (to == metadata.Double || to == metadata.Single) && c.T == metadata.Double:
		return &Const{Value: c.Value, T: to}, nil
	case to.IsInteger() && c.T == metadata.Decimal:
		// 42.0 against an integer key: exact integers only
		r, ok := new(big.Rat).SetString(c.Value.(string))
		if !ok || !r.IsInt() || !r.Num().IsInt64() {
			return nil, fmt.Errorf("%s is not a whole number", c.Value)
		}
		return convertConst(&Const{Value: r.Num().Int64(), T: metadata.Int64}, to)
	case to == metadata.GUID && c.T == metadata.String:
		s := strings.ToLower(c.Value.(string))
		if !isGUID(s) {
			return nil, fmt.Errorf("'%s' is not a GUID such as 01234567-89ab-cdef-0123-456789abcdef", c.Value)
		}
		return &Const{Value: s, T: to}, nil
	case to == metadata.String && c.T == metadata.GUID:
		return &Const{Value: c.Value, T: to}, nil
	case to == metadata.DateTimeOffset && c.T == metadata.Date:
		return &Const{Value: c.Value, T: to}, nil
	case to == metadata.Duration && c.T == metadata.String:
		// the grammar lets a duration be written as a plain string
		if d, ok := parseDurationString(c.Value.(string)); ok {
			return &Const{Value: d, T: to}, nil
		}
	}
	return nil, fmt.Errorf("a %s value cannot be used as %s", c.T, to)
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func parseDurationString(s string) (time.Duration, bool) {
	lit, err := uri.ParseExpression("duration", "duration'"+strings.ReplaceAll(s, "'", "''")+"'")
	if err != nil {
		return 0, false
	}
	l, ok := lit.(*uri.Literal)
	if !ok || l.Kind != uri.LitDuration {
		return 0, false
	}
	return l.Value.(time.Duration), true
}
