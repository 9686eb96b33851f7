// Package demo creates the sample database that `odatagw serve` exposes
// when no data source is given: a SQLite file with customers, products,
// orders and order lines, filled with the same deterministic data on every
// run, covering every Edm type the gateway serves and some NULLs, quotes and
// non-ASCII text.
package demo
