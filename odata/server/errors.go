package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/format"
)

func notFoundRoute(path string) *odata.Error {
	return odata.NotFound(odata.CodeNotFound, "nothing is served at %s; service roots are at /odata/{source}/", path)
}

func internalPanic(v any) *odata.Error {
	return odata.Internal(fmt.Errorf("panic: %v", v))
}

func errorID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeError answers with the OData JSON error body. Server-side failures
// are logged with their cause under an id that the body also carries, so
// an admin can find the log line a user reports.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		log.Debug("client went away", "path", c.Request.URL.Path)
		c.Status(499)
		return
	}
	e := odata.AsError(err)
	msg := e.Message
	if e.Status >= 500 && e.Status != http.StatusNotImplemented {
		id := errorID()
		log.Error("request failed", "error_id", id, "status", e.Status, "code", e.Code,
			"method", c.Request.Method, "path", c.Request.URL.Path, "cause", e.Cause)
		msg += " (error id " + id + ")"
	}
	if c.Writer.Header().Get("OData-Version") == "" {
		c.Header("OData-Version", string(odata.V40))
	}
	if e.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "2")
	}
	if e.Status == http.StatusMethodNotAllowed && c.Writer.Header().Get("Allow") == "" {
		c.Header("Allow", "GET, HEAD")
	}
	b := []byte(`{"error":{"code":`)
	b = format.AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = format.AppendString(b, msg)
	if e.Target != "" {
		b = append(b, `,"target":`...)
		b = format.AppendString(b, e.Target)
	}
	b = append(b, `,"details":[]}}`...)
	c.Data(e.Status, "application/json;odata.metadata=minimal", b)
}
