// Package postgres is the PostgreSQL source kind, through pgx v5 and a
// pgxpool. DSNs are postgres:// or postgresql:// URLs.
package postgres
