package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/odatagw/odatagw/odata"
)

func notFoundRoute(path string) *odata.Error {
	return odata.NotFound(odata.CodeNotFound, "nothing is served at %s; service roots are at /odata/{source}/", path)
}

func internalPanic(v any) *odata.Error {
	return odata.Internal(fmt.Errorf("panic: %v", v))
}

// writeError answers with the OData JSON error body. Server-side failures
// are logged with their cause under an id that the body also carries, so
// an admin can find the log line a user reports.
func writeError(w http.ResponseWriter, req *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
		log.Debug("client went away", "path", req.URL.Path)
		w.WriteHeader(499)
		return
	}
	e := odata.AsError(err)
	msg := e.Message
	if e.Status >= 500 && e.Status != http.StatusNotImplemented {
		id := odata.ErrorID()
		log.Error("request failed", "error_id", id, "status", e.Status, "code", e.Code,
			"method", req.Method, "path", req.URL.Path, "cause", e.Cause)
		msg += " (error id " + id + ")"
	}
	h := w.Header()
	if h.Get(odata.HeaderVersion) == "" {
		h.Set(odata.HeaderVersion, string(odata.V40))
	}
	if e.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "2")
	}
	if e.Status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		allow := e.Allow
		if allow == "" {
			allow = "GET, HEAD"
		}
		h.Set("Allow", allow)
	}
	h.Set("Content-Type", "application/json;odata.metadata=minimal")
	w.WriteHeader(e.Status)
	w.Write(odata.ErrorBody(odata.ErrorObject{Code: e.Code, Message: msg, Target: e.Target}))
}
