// Package server is the HTTP face of the gateway: gin wiring, one catch-all
// route per service root, and the OData handlers that walk each request
// through parse, plan, source and writer. It parses the still-encoded path
// itself, because OData keys may hold %2F and %27, which router matching
// would decode or split.
package server
