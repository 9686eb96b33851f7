package odata

import "net/http"

// Limits bound what one request may ask, so that no request can make the
// gateway or the database do unbounded work. Each has its own name in the
// configuration and its own message; exceeding one is 400 LimitExceeded
// (414 for the URL).
type Limits struct {
	MaxURLLength    int   // bytes of path and query string
	MaxFilterDepth  int   // nesting of parentheses, functions and not
	MaxFilterNodes  int   // terms of one $filter, $search or $orderby
	MaxSelectItems  int   // properties in $select
	MaxOrderByItems int   // keys in $orderby
	MaxInItems      int   // values after 'in'
	MaxSearchTerms  int   // words and phrases in $search
	MaxTop          int64 // largest $top
}

// DefaultLimits are generous enough for Salesforce, whose SOQL IN lists
// arrive as long chains of 'or'.
func DefaultLimits() Limits {
	return Limits{MaxURLLength: 64 << 10, MaxFilterDepth: 50, MaxFilterNodes: 5000, MaxSelectItems: 500,
		MaxOrderByItems: 20, MaxInItems: 1000, MaxSearchTerms: 50, MaxTop: 1_000_000}
}

// LimitExceeded reports a request past a limit, naming the option.
func LimitExceeded(target, format string, args ...any) *Error {
	e := newError(http.StatusBadRequest, CodeLimitExceeded, format, args...)
	e.Message += "; the gateway's administrator can raise this limit"
	e.Target = target
	return e
}
