// Package sqlgen turns a plan.Query into one parameterised SELECT (or COUNT)
// for a SQL dialect. It walks the typed expression tree once, as a visitor;
// values always become parameters, and identifiers come only from the
// metadata, quoted by the dialect's one quoting function.
//
// It keeps OData's two-valued logic in three-valued SQL: a comparison under
// a negation is wrapped so that null compares false, as OData defines, and
// eq/ne between two nullable operands use null-safe equality.
package sqlgen
