package odata

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is the one error type that crosses stage boundaries. Status and Code
// are what a client may branch on; Message is what a Salesforce user reads;
// Cause is logged and never sent.
type Error struct {
	Status  int
	Code    string
	Message string
	Target  string
	Cause   error
	// Allow is the Allow header of a 405: the methods the resource takes.
	Allow string
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// WithTarget returns a copy of e naming the part of the request at fault.
func (e *Error) WithTarget(target string) *Error {
	c := *e
	c.Target = target
	return &c
}

// Stable error codes. Clients and tests match on these, so they never change.
const (
	CodeSyntax           = "SyntaxError"
	CodeBadRequest       = "BadRequest"
	CodeTypeMismatch     = "TypeMismatch"
	CodeInvalidValue     = "InvalidValue"
	CodeConflict         = "Conflict"
	CodeReadOnly         = "ReadOnly"
	CodeBodyTooLarge     = "BodyTooLarge"
	CodeUnsupportedMedia = "UnsupportedMediaType"
	CodeForbidden        = "Forbidden"
	CodeUnauthorized     = "Unauthorized"
	CodeNotFound         = "NotFound"
	CodeUnknownSet       = "UnknownEntitySet"
	CodeUnknownProperty  = "UnknownProperty"
	CodeEntityNotFound   = "EntityNotFound"
	CodeMethodNotAllowed = "MethodNotAllowed"
	CodeNotAcceptable    = "NotAcceptable"
	CodeNotImplemented   = "NotImplemented"
	CodeBadSkipToken     = "InvalidSkipToken"
	CodeUnavailable      = "SourceUnavailable"
	CodeTimeout          = "QueryTimeout"
	CodeInternal         = "InternalError"
	CodeUnsupportedVer   = "UnsupportedVersion"
	CodePrecondition     = "PreconditionFailed"
	CodeLimitExceeded    = "LimitExceeded"
	CodeTooManyRequests  = "TooManyRequests"
	CodeBusy             = "Busy"
	CodeCSRFRequired     = "CSRFTokenRequired"
	CodeFailedDependency = "FailedDependency"
	CodeBadDeltaToken    = "InvalidDeltaToken"
	CodeDeltaExpired     = "DeltaLinkExpired"
)

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// SyntaxError reports malformed request text; pos is the 0-based offset in
// the offending option or path, which the message shows 1-based.
func SyntaxError(target string, pos int, format string, args ...any) *Error {
	e := newError(http.StatusBadRequest, CodeSyntax, format, args...)
	e.Message = fmt.Sprintf("%s: %s (at position %d)", target, e.Message, pos+1)
	e.Target = target
	return e
}

// BadRequest reports a well-formed request that makes no sense for this service.
func BadRequest(code, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, code, format, args...)
}

// NotFound reports a name or key that does not exist.
func NotFound(code, format string, args ...any) *Error {
	return newError(http.StatusNotFound, code, format, args...)
}

// NotImplemented reports valid OData that this service does not support,
// naming the feature so the caller knows what to avoid.
func NotImplemented(feature string) *Error {
	return newError(http.StatusNotImplemented, CodeNotImplemented,
		"%s is valid OData but is not supported by this service", feature)
}

// MethodNotAllowed reports a verb the resource does not accept.
func MethodNotAllowed(method, resource string) *Error {
	return newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		"%s is not allowed on %s", method, resource)
}

// NotAcceptable reports a response format the service cannot produce.
func NotAcceptable(format string, args ...any) *Error {
	return newError(http.StatusNotAcceptable, CodeNotAcceptable, format, args...)
}

// TooManyRequests reports a client past its rate limit.
func TooManyRequests(format string, args ...any) *Error {
	return newError(http.StatusTooManyRequests, CodeTooManyRequests, format, args...)
}

// Busy reports a request that waited too long for a database connection.
func Busy() *Error {
	return newError(http.StatusServiceUnavailable, CodeBusy,
		"the data source is busy with other queries; try again in a moment")
}

// CSRFRequired refuses a change that lacks a valid CSRF token.
func CSRFRequired() *Error {
	return newError(http.StatusForbidden, CodeCSRFRequired,
		"this source requires a CSRF token for changes: GET the service root with X-CSRF-Token: Fetch and send the token back with its cookie")
}

// FailedDependency answers a $batch request that did not run because one
// it depends on, or shares a change set with, failed.
func FailedDependency(on string) *Error {
	return newError(http.StatusFailedDependency, CodeFailedDependency,
		"not run: request %s, which it depends on or shares a change set with, failed", on)
}

// Gone reports a delta link the gateway can no longer answer: the client
// must read the set again.
func Gone(format string, args ...any) *Error {
	return newError(http.StatusGone, CodeDeltaExpired, format, args...)
}

// Forbidden refuses what the caller, or the gateway's own database user,
// may not do.
func Forbidden(format string, args ...any) *Error {
	return newError(http.StatusForbidden, CodeForbidden, format, args...)
}

// Unavailable reports that the data source cannot be reached right now.
func Unavailable(cause error) *Error {
	e := newError(http.StatusServiceUnavailable, CodeUnavailable,
		"the database behind this service cannot be reached right now; try again shortly")
	e.Cause = cause
	// a cause that knows better says why, in the client's words (an agent
	// that is not connected)
	var m interface{ UnavailableMessage() string }
	if errors.As(cause, &m) {
		e.Message = m.UnavailableMessage()
	}
	return e
}

// Timeout reports a query that ran past the statement timeout.
func Timeout(cause error) *Error {
	e := newError(http.StatusGatewayTimeout, CodeTimeout,
		"the query took too long and was cancelled; narrow it with $filter or a smaller $top")
	e.Cause = cause
	return e
}

// Internal wraps an unexpected failure. The cause is logged, never sent.
func Internal(cause error) *Error {
	e := newError(http.StatusInternalServerError, CodeInternal, "an unexpected error occurred; the gateway log has the details")
	e.Cause = cause
	return e
}

// AsError returns err as an *Error, wrapping anything else as Internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// ErrorObject is the "error" member of an error answer: the one shape of
// every error the gateway's listeners send, the OData port's and the
// admin API's. Target names the part of the request at fault.
type ErrorObject struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Target  string        `json:"target,omitempty"`
	Details []ErrorObject `json:"details"`
}

// ErrorBody is an error answer's JSON body: {"error": obj}.
func ErrorBody(obj ErrorObject) []byte {
	if obj.Details == nil {
		obj.Details = []ErrorObject{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // messages quote URLs: & stays &
	enc.Encode(struct {
		Error ErrorObject `json:"error"`
	}{obj})
	return bytes.TrimRight(b.Bytes(), "\n")
}

// ErrorID names the log line of a failure whose cause is not sent: the
// answer carries the id, so that an admin finds the line a user reports.
// Every listener makes its ids here.
func ErrorID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
