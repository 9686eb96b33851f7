// Package plan binds a parsed OData request to a service's metadata and
// produces a typed plan: which entity set, which key, which properties, and
// the filter, search and order as typed expression trees. Unknown names are
// 404, type errors 400, valid OData the gateway does not run 501, all before
// any database is touched.
//
// The plan knows no SQL. Sources turn it into queries; the cache keys on its
// canonical form.
package plan
