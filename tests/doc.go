// Package tests holds the end-to-end suites: whole gateways, started the
// way the binary starts them, answering HTTP requests against the real
// PostgreSQL server (ODATAGW_TEST_POSTGRES_URL) and the embedded SQLite demo.
// Expected rows come from SQL run on the same database, never from hand-
// written lists.
package tests
