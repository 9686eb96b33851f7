// Package sources defines what a data source is to the rest of the gateway:
// something that has a metadata model and answers plan queries with rows.
// Source kinds (postgres, sqlite, ...) register a factory under a name and
// are chosen by the scheme of the data source's DSN. Optional abilities are
// separate small interfaces, found by type assertion.
//
// It also holds what every kind shares: the description of introspected
// tables, and the rules that turn them into a metadata.Service (which tables,
// which key, which names).
package sources
