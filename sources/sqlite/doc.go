// Package sqlite is the SQLite source kind, through modernc.org/sqlite (pure
// Go, no cgo). DSNs are "sqlite:PATH" (or "sqlite:file:PATH?..."). It serves
// any SQLite file, and backs the embedded demo.
//
// SQLite has loose types, so the declared column type decides the Edm type.
// Dates are expected as text 'YYYY-MM-DD'; timestamps as UTC text
// 'YYYY-MM-DD HH:MM:SS.SSS' (SQLite's own format), which sorts and compares
// correctly as text. Case-insensitive matching ($search) folds ASCII only.
package sqlite
