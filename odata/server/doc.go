// Package server is the HTTP face of the gateway: gin wiring (a source's
// name and a catch-all path, the same two routes for every service root,
// so that sources come and go without touching the router), and the OData
// handlers that walk each request through parse, plan, source and writer. It parses the still-encoded path
// itself, because OData keys may hold %2F and %27, which router matching
// would decode or split.
package server
