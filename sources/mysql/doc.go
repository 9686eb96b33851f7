// Package mysql serves MySQL (8.0 and later) and MariaDB (10.5 and later)
// databases: introspection from information_schema, SQL in their dialect,
// writes as one transaction each, and change tracking through a trigger-fed
// log that the gateway polls (neither server has LISTEN).
//
// Sessions run in UTC with strict SQL mode, so that times are read as
// written and a bad value is an error, never a silent truncation. Text
// comparisons follow OData, not the column's collation: eq, contains and
// the others are exact, $search ignores case.
package mysql
