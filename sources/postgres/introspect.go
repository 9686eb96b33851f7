package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

const tablesSQL = `
SELECT c.oid, n.nspname, c.relname, c.relkind IN ('v', 'm'), COALESCE(obj_description(c.oid, 'pg_class'), ''),
       NOT (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname`

// columnsSQL reads each column with its type resolved through domains.
const columnsSQL = `
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       COALESCE(bt.typname, t.typname), COALESCE(bt.typtype, t.typtype), COALESCE(bt.typcategory, t.typcategory),
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       a.attnotnull OR (t.typtype = 'd' AND t.typnotnull),
       a.attidentity <> '' OR a.attgenerated <> '' OR COALESCE(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%',
       COALESCE(col_description(a.attrelid, a.attnum), '')
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

// keysSQL lists primary keys and plain unique indexes, primary first, then
// the narrowest.
const keysSQL = `
SELECT i.indrelid, i.indisprimary, array_agg(a.attname ORDER BY k.ord)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = ANY($1) AND (i.indisprimary OR i.indisunique) AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indrelid, i.indisprimary
ORDER BY i.indrelid, i.indisprimary DESC, count(*), min(i.indexrelid::text)`

// textTypes are read as they are; other types served as Edm.String are
// read in their text form.
// foreignKeysSQL lists the tables' foreign keys with their columns in
// order, and the schema, table and columns each references.
const foreignKeysSQL = `
SELECT c.conrelid, c.conname, n.nspname, r.relname,
  ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
  ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
FROM pg_constraint c
JOIN pg_class r ON r.oid = c.confrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.conrelid = ANY($1)
ORDER BY c.conrelid, c.conname`

var textTypes = map[string]bool{"text": true, "varchar": true, "bpchar": true, "name": true, "citext": true}

// mapType maps a PostgreSQL type (after domains) to an Edm type and facets.
func mapType(typname, typtype, category string, typmod int) (c sources.Column, textForm bool) {
	switch typname {
	case "int2":
		c.Type = metadata.Int16
	case "int4":
		c.Type = metadata.Int32
	case "int8":
		c.Type = metadata.Int64
	case "numeric":
		c.Type = metadata.Decimal
		if typmod >= 4 {
			c.Precision = ((typmod - 4) >> 16) & 0xffff
			c.Scale = (typmod - 4) & 0xffff
			c.ScaleSet = true
		}
	case "float4":
		c.Type = metadata.Single
	case "float8":
		c.Type = metadata.Double
	case "bool":
		c.Type = metadata.Boolean
	case "uuid":
		c.Type = metadata.GUID
	case "date":
		c.Type = metadata.Date
	case "timestamptz", "timestamp":
		c.Type, c.Precision = metadata.DateTimeOffset, 6
		if typmod >= 0 {
			c.Precision = typmod
		}
	case "bytea":
		c.Type = metadata.Binary
	case "varchar", "bpchar":
		c.Type = metadata.String
		if typmod >= 4 {
			c.MaxLength = typmod - 4
		}
	case "name":
		c.Type, c.MaxLength = metadata.String, 63
	default:
		// text, json, enums, arrays, intervals, times, network types...:
		// served as strings in their PostgreSQL text form
		c.Type = metadata.String
		textForm = !textTypes[typname]
	}
	return c, textForm
}

func introspect(ctx context.Context, pool *pgxpool.Pool, schemas []string) ([]sources.Table, error) {
	rows, err := pool.Query(ctx, tablesSQL, schemas)
	if err != nil {
		return nil, err
	}
	var tables []sources.Table
	byOID := map[uint32]int{}
	var oids []uint32
	for rows.Next() {
		var oid uint32
		var t sources.Table
		if err := rows.Scan(&oid, &t.Schema, &t.Name, &t.IsView, &t.Comment, &t.ReadOnly); err != nil {
			rows.Close()
			return nil, err
		}
		byOID[oid] = len(tables)
		oids = append(oids, oid)
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := markTracked(ctx, pool, tables); err != nil {
		return nil, err
	}
	rows, err = pool.Query(ctx, columnsSQL, oids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var oid uint32
		var name, dbType, typname, typtype, category, comment string
		var typmod int32
		var notNull, computed bool
		if err := rows.Scan(&oid, &name, &dbType, &typname, &typtype, &category, &typmod, &notNull, &computed, &comment); err != nil {
			rows.Close()
			return nil, err
		}
		t := &tables[byOID[oid]]
		c, text := mapType(typname, typtype, category, int(typmod))
		c.Name, c.DBType, c.Nullable, c.Computed, c.Comment, c.TextForm = name, dbType, !notNull, computed, comment, text
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = pool.Query(ctx, keysSQL, oids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var oid uint32
		var primary bool
		var cols []string
		if err := rows.Scan(&oid, &primary, &cols); err != nil {
			rows.Close()
			return nil, err
		}
		t := &tables[byOID[oid]]
		if primary {
			t.PrimaryKey = cols
			continue
		}
		if sources.AllNotNull(t, cols) {
			t.UniqueKeys = append(t.UniqueKeys, cols)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = pool.Query(ctx, foreignKeysSQL, oids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var oid uint32
		var fk sources.ForeignKey
		if err := rows.Scan(&oid, &fk.Name, &fk.RefSchema, &fk.RefTable, &fk.Columns, &fk.RefColumns); err != nil {
			rows.Close()
			return nil, err
		}
		t := &tables[byOID[oid]]
		t.ForeignKeys = append(t.ForeignKeys, fk)
	}
	rows.Close()
	return tables, rows.Err()
}

// markTracked marks the tables change tracking is installed on.
func markTracked(ctx context.Context, pool *pgxpool.Pool, tables []sources.Table) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('odatagw.tracked') IS NOT NULL AND has_table_privilege('odatagw.tracked', 'SELECT')`).Scan(&exists); err != nil || !exists {
		return err
	}
	rows, err := pool.Query(ctx, `SELECT tbl FROM odatagw.tracked`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sources.MarkTracked(rows, tables, func(t sources.Table) string { return t.Schema + "." + t.Name })
}
