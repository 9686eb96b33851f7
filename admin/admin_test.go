package admin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// failing is a Manager whose Get fails the way a database does; nothing
// else of it is called.
type failing struct{ Manager }

func (failing) Get(context.Context, string) (Status, error) {
	return Status{}, errors.New(`pq: password authentication failed for user "gateway" at db.internal:5432`)
}

// TestInternalErrorsKeepTheirCause: a failure the API has no answer for
// is a 500 whose body carries an error id, and the cause goes to the log
// under that id, never to the caller.
func TestInternalErrorsKeepTheirCause(t *testing.T) {
	var logged bytes.Buffer
	h := Handler(Config{Token: "t", Manager: failing{}, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	req := httptest.NewRequest("GET", "/api/sources/erp", nil)
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	id := regexp.MustCompile(`error id ([0-9a-f]{12})`).FindStringSubmatch(body)
	if rec.Code != http.StatusInternalServerError || id == nil || strings.Contains(body, "password") || strings.Contains(body, "db.internal") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if !strings.Contains(logged.String(), "error_id="+id[1]) || !strings.Contains(logged.String(), "password authentication failed") {
		t.Errorf("the log lacks the cause under %s:\n%s", id[1], logged.String())
	}
}
