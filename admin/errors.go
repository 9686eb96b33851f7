package admin

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/odata"
)

// apiError is one kind of refusal of the admin API: its status and its
// stable code. Where the OData port refuses for the same reason, the code
// is the same (the odata package's list); the rest are the registry's own.
// Every answer is {"error": {"code", "message", "field"}}; a failure the
// caller cannot act on is errInternal, whose cause is logged under an id
// and never sent.
type apiError struct {
	status int
	code   string
}

var (
	errBadRequest   = apiError{http.StatusBadRequest, odata.CodeBadRequest} // a body or header that cannot be read
	errInvalidValue = apiError{http.StatusBadRequest, odata.CodeInvalidValue}
	errUnauthorized = apiError{http.StatusUnauthorized, odata.CodeUnauthorized}
	errCSRF         = apiError{http.StatusForbidden, odata.CodeCSRFRequired}
	errNotFound     = apiError{http.StatusNotFound, odata.CodeNotFound}
	errTooLarge     = apiError{http.StatusRequestEntityTooLarge, odata.CodeBodyTooLarge}
	errInternal     = apiError{http.StatusInternalServerError, odata.CodeInternal}

	errInvalidSource = apiError{http.StatusUnprocessableEntity, "InvalidSource"} // a registration the gateway cannot serve; field says which part
	errNoSecretKey   = apiError{http.StatusUnprocessableEntity, "NoSecretKey"}   // a password, and no key to seal it with
	errExists        = apiError{http.StatusConflict, "Exists"}
	errFromConfig    = apiError{http.StatusConflict, "FromConfiguration"} // the configuration file owns it
	errChanged       = apiError{http.StatusPreconditionFailed, "Changed"} // If-Match no longer matches
	errNeedsSample   = apiError{http.StatusConflict, "NeedsSample"}       // a plan asked for before the shape's values were sampled
	errInUse         = apiError{http.StatusConflict, "InUse"}             // a source a service serves
)

// refusal is a request the admin API refuses, as its handlers return it.
type refusal struct {
	apiError
	field, msg string
}

func (r *refusal) Error() string { return r.code + ": " + r.msg }

// refuse is the refusal of kind e; field names the input at fault, or is "".
func refuse(e apiError, field, msg string) error { return &refusal{e, field, msg} }

// fail answers with e, in the body every listener of the gateway answers
// errors with (odata.ErrorBody): target names the input at fault, and
// field, its older name here, is kept beside it for the API's clients.
func fail(c *gin.Context, e apiError, field, msg string) {
	body := odata.ErrorBody(odata.ErrorObject{Code: e.code, Message: msg, Target: field})
	if field != "" {
		body = append(body[:len(body)-2], `,"field":`...)
		body = strconv.AppendQuote(body, field)
		body = append(body, "}}"...)
	}
	c.Abort()
	c.Data(e.status, "application/json; charset=utf-8", body)
}
