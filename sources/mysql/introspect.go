package mysql

import (
	"context"
	"database/sql"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// tablesSQL lists the database's tables and views, but the change log's
// own (odatagw_*), with whether the user may write each: privileges on
// the table, the database (a grant's database may be a pattern) or every
// database; a view must be updatable as well.
const tablesSQL = `
SELECT t.TABLE_NAME, t.TABLE_TYPE = 'VIEW', CASE WHEN t.TABLE_TYPE = 'VIEW' THEN '' ELSE t.TABLE_COMMENT END,
  NOT (
    COALESCE((SELECT v.IS_UPDATABLE = 'YES' FROM information_schema.VIEWS v
              WHERE v.TABLE_SCHEMA = t.TABLE_SCHEMA AND v.TABLE_NAME = t.TABLE_NAME), TRUE)
    AND (EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES p
                 WHERE p.GRANTEE = @odatagw_me AND p.PRIVILEGE_TYPE IN ('INSERT', 'UPDATE', 'DELETE'))
      OR EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES p
                 WHERE p.GRANTEE = @odatagw_me AND t.TABLE_SCHEMA LIKE p.TABLE_SCHEMA AND p.PRIVILEGE_TYPE IN ('INSERT', 'UPDATE', 'DELETE'))
      OR EXISTS (SELECT 1 FROM information_schema.TABLE_PRIVILEGES p
                 WHERE p.GRANTEE = @odatagw_me AND p.TABLE_SCHEMA = t.TABLE_SCHEMA AND p.TABLE_NAME = t.TABLE_NAME
                   AND p.PRIVILEGE_TYPE IN ('INSERT', 'UPDATE', 'DELETE'))))
FROM information_schema.TABLES t
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE IN ('BASE TABLE', 'VIEW') AND t.TABLE_NAME NOT LIKE 'odatagw\_%'
ORDER BY t.TABLE_NAME`

// meSQL spells the current account as the privilege tables' GRANTEE does.
const meSQL = `SET @odatagw_me = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`

const columnsSQL = `
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE = 'YES',
  COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0),
  COALESCE(DATETIME_PRECISION, 0), EXTRA, COALESCE(GENERATION_EXPRESSION, ''), COLUMN_COMMENT
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'odatagw\_%'
ORDER BY TABLE_NAME, ORDINAL_POSITION`

// keysSQL lists the primary key and unique indexes (on columns, not
// expressions), primary first, then the narrowest.
const keysSQL = `
SELECT TABLE_NAME, INDEX_NAME, INDEX_NAME = 'PRIMARY', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR '\0')
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 AND TABLE_NAME NOT LIKE 'odatagw\_%'
GROUP BY TABLE_NAME, INDEX_NAME
HAVING COUNT(COLUMN_NAME) = COUNT(*)
ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, COUNT(*), INDEX_NAME`

// foreignKeysSQL lists the foreign keys, a row per column in order.
const foreignKeysSQL = `
SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_SCHEMA = DATABASE(), REFERENCED_TABLE_SCHEMA,
  REFERENCED_TABLE_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`

// mapType maps a column's type to an Edm type and facets. columnType is
// the full declaration ("int(10) unsigned", "tinyint(1)", "enum('a','b')").
func mapType(dataType, columnType string, charLen, precision, scale, dtPrecision int64) sources.Column {
	c := sources.Column{}
	unsigned := strings.Contains(columnType, "unsigned")
	switch dataType {
	case "tinyint":
		switch {
		case strings.HasPrefix(columnType, "tinyint(1)") && !unsigned:
			c.Type = metadata.Boolean // MySQL's BOOLEAN
		case unsigned:
			c.Type = metadata.Byte
		default:
			c.Type = metadata.Int16
		}
	case "bool", "boolean":
		c.Type = metadata.Boolean
	case "smallint":
		c.Type = metadata.Int16
		if unsigned {
			c.Type = metadata.Int32
		}
	case "mediumint":
		c.Type = metadata.Int32
	case "int", "integer":
		c.Type = metadata.Int32
		if unsigned {
			c.Type = metadata.Int64
		}
	case "bigint":
		c.Type = metadata.Int64
		if unsigned { // up to 2^64-1: one size up is a decimal
			c.Type, c.Precision, c.Scale, c.ScaleSet = metadata.Decimal, 20, 0, true
		}
	case "decimal", "numeric":
		c.Type, c.Precision, c.Scale, c.ScaleSet = metadata.Decimal, int(precision), int(scale), true
	case "float":
		c.Type = metadata.Single
	case "double", "real":
		c.Type = metadata.Double
	case "bit":
		c.Type = metadata.Int64
		if strings.HasPrefix(columnType, "bit(1)") {
			c.Type = metadata.Boolean
		}
	case "year":
		c.Type = metadata.Int16
	case "date":
		c.Type = metadata.Date
	case "datetime", "timestamp":
		c.Type, c.Precision = metadata.DateTimeOffset, int(dtPrecision)
	case "time":
		c.Type, c.Precision = metadata.TimeOfDay, int(dtPrecision)
	case "uuid": // MariaDB 10.7+
		c.Type = metadata.GUID
	case "char", "varchar", "tinytext", "enum", "set":
		c.Type, c.MaxLength = metadata.String, int(charLen)
	case "text", "mediumtext", "longtext", "json", "inet4", "inet6":
		c.Type = metadata.String // no length Salesforce can use
	case "binary", "varbinary", "tinyblob":
		c.Type, c.MaxLength = metadata.Binary, int(charLen)
	case "blob", "mediumblob", "longblob":
		c.Type = metadata.Binary
	default:
		// geometry and other types: left out, with the reason logged
		c.Type = ""
	}
	return c
}

func introspect(ctx context.Context, db *sql.DB) ([]sources.Table, error) {
	conn, err := db.Conn(ctx) // @odatagw_me lives on one connection
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, meSQL); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, tablesSQL)
	if err != nil {
		return nil, err
	}
	var tables []sources.Table
	byName := map[string]int{}
	for rows.Next() {
		var t sources.Table
		if err := rows.Scan(&t.Name, &t.IsView, &t.Comment, &t.ReadOnly); err != nil {
			rows.Close()
			return nil, err
		}
		byName[t.Name] = len(tables)
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := readColumns(ctx, conn, tables, byName); err != nil {
		return nil, err
	}
	if err := readKeys(ctx, conn, tables, byName); err != nil {
		return nil, err
	}
	if err := readForeignKeys(ctx, conn, tables, byName); err != nil {
		return nil, err
	}
	return tables, markTracked(ctx, conn, tables)
}

// readForeignKeys gathers each constraint's columns. A reference into the
// same database gets no schema, as its tables have none.
func readForeignKeys(ctx context.Context, conn *sql.Conn, tables []sources.Table, byName map[string]int) error {
	rows, err := conn.QueryContext(ctx, foreignKeysSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, refSchema, refTable, col, refCol string
		var sameDB bool
		if err := rows.Scan(&table, &name, &sameDB, &refSchema, &refTable, &col, &refCol); err != nil {
			return err
		}
		i, ok := byName[table]
		if !ok {
			continue
		}
		if sameDB {
			refSchema = ""
		}
		t := &tables[i]
		if n := len(t.ForeignKeys); n == 0 || t.ForeignKeys[n-1].Name != name {
			t.ForeignKeys = append(t.ForeignKeys, sources.ForeignKey{Name: name, RefSchema: refSchema, RefTable: refTable})
		}
		fk := &t.ForeignKeys[len(t.ForeignKeys)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
	}
	return rows.Err()
}

func readColumns(ctx context.Context, conn *sql.Conn, tables []sources.Table, byName map[string]int) error {
	rows, err := conn.QueryContext(ctx, columnsSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, columnType, dataType, extra, generated, comment string
		var nullable bool
		var charLen, precision, scale, dtPrecision int64
		if err := rows.Scan(&table, &name, &columnType, &dataType, &nullable, &charLen, &precision, &scale, &dtPrecision, &extra, &generated, &comment); err != nil {
			return err
		}
		i, ok := byName[table]
		if !ok {
			continue
		}
		c := mapType(strings.ToLower(dataType), strings.ToLower(columnType), charLen, precision, scale, dtPrecision)
		c.Name, c.DBType, c.Nullable, c.Comment = name, columnType, nullable, comment
		extra = strings.ToLower(extra)
		c.Computed = generated != "" || strings.Contains(extra, "auto_increment") ||
			strings.Contains(extra, "virtual") || strings.Contains(extra, "stored") || strings.Contains(extra, "persistent")
		tables[i].Columns = append(tables[i].Columns, c)
	}
	return rows.Err()
}

func readKeys(ctx context.Context, conn *sql.Conn, tables []sources.Table, byName map[string]int) error {
	rows, err := conn.QueryContext(ctx, keysSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table, index, cols string
		var primary bool
		if err := rows.Scan(&table, &index, &primary, &cols); err != nil {
			return err
		}
		i, ok := byName[table]
		if !ok {
			continue
		}
		t := &tables[i]
		key := strings.Split(cols, "\x00")
		if primary {
			t.PrimaryKey = key
			continue
		}
		if sources.AllNotNull(t, key) {
			t.UniqueKeys = append(t.UniqueKeys, key)
		}
	}
	return rows.Err()
}
