package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/internal/lineguard"
	"github.com/odatagw/odatagw/odata"
)

// guardedRequest restores what the guard hid from the HTTP server (the
// TLS state) and refuses a path with a broken escape as an OData error.
func (s *Server) guardedRequest(c *gin.Context) {
	r := c.Request
	if r.TLS == nil {
		if tc, ok := lineguard.TLSConn(r.Context()); ok {
			st := tc.ConnectionState()
			r.TLS = &st
		}
	}
	if what := r.Header.Get(lineguard.TooLargeHeader); what != "" {
		// the rest of the connection was dropped with the cut request
		c.Writer.Header().Set("Connection", "close")
		writeError(c.Writer, r, s.log, tooLarge(what))
		c.Abort()
		return
	}
	if at := r.Header.Get(lineguard.BadEscapeHeader); at != "" {
		pos, _ := strconv.Atoi(at)
		writeError(c.Writer, r, s.log, odata.SyntaxError("path", pos,
			"malformed percent-encoding: '%%' must be followed by two hexadecimal digits (write %%25 for a percent sign)"))
		c.Abort()
		return
	}
	c.Next()
}

// tooLarge is the error for a request the listener cut: 414 for a
// request line, 431 for headers.
func tooLarge(what string) *odata.Error {
	kind, n, _ := strings.Cut(what, " ")
	if kind == "line" {
		return &odata.Error{Status: 414, Code: odata.CodeLimitExceeded,
			Message: "the URL is longer than " + n + " bytes, which the gateway accepts: a SOQL query with a long IN list of keys makes such a URL; " +
				"query fewer keys at a time, or the gateway's administrator can raise max_url_length"}
	}
	return &odata.Error{Status: http.StatusRequestHeaderFieldsTooLarge, Code: odata.CodeLimitExceeded,
		Message: "the request's headers are larger than the " + n + " bytes the gateway accepts; send fewer or shorter headers"}
}
