// Package uri parses an OData request URL (the still-escaped resource path
// below a service root, and the raw query string) into a syntax tree.
//
// It knows no metadata: names stay names until the planner binds them. Valid
// OData that the gateway does not implement (lambdas, $expand, $apply,
// parameter aliases, geo literals, ...) is reported as an *odata.Error with
// status 501 naming the feature; malformed text is reported with status 400
// and the position where it stops being valid.
package uri
