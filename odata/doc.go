// Package odata holds the protocol vocabulary every other stage shares: the
// error family with its HTTP statuses and stable codes, protocol versions and
// their negotiation, and the Prefer header. It knows nothing of HTTP routing,
// metadata or databases.
package odata
