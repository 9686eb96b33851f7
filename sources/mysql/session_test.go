package mysql

import (
	"reflect"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		url, addr, net, db, user, err string
	}{
		{url: "mysql://app:s%40cret@db.internal/erp", addr: "db.internal:3306", net: "tcp", db: "erp", user: "app"},
		{url: "mariadb://root@127.0.0.1:3307/test?tls=skip-verify", addr: "127.0.0.1:3307", net: "tcp", db: "test", user: "root"},
		{url: "mysql://root@/erp?socket=/run/mysqld/mysqld.sock", addr: "/run/mysqld/mysqld.sock", net: "unix", db: "erp", user: "root"},
		{url: "mysql://root@localhost:3306/", err: "names no database"},
		{url: "postgres://x@y/z", err: "must start with mysql://"},
	} {
		cfg, err := Config(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if cfg.Addr != c.addr || cfg.Net != c.net || cfg.DBName != c.db || cfg.User != c.user {
			t.Errorf("%s: %s %s %s %s", c.url, cfg.Net, cfg.Addr, cfg.DBName, cfg.User)
		}
		if !cfg.ParseTime || cfg.Loc.String() != "UTC" || cfg.Params["time_zone"] != "'+00:00'" || cfg.Params["sql_mode"] != StrictMode {
			t.Errorf("%s: the gateway's session settings are missing: %+v", c.url, cfg.Params)
		}
	}
	if cfg, _ := Config("mysql://app:s%40cret@db/erp"); cfg.Passwd != "s@cret" {
		t.Errorf("password %q", cfg.Passwd)
	}
}

func TestStatements(t *testing.T) {
	script := "CREATE TABLE a (x INT);\nDELIMITER $$\nCREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN\n  SET @n = 1;\n  SET @m = 2;\nEND$$\nDELIMITER ;\nINSERT INTO a VALUES (1);\nSELECT 'no end'"
	want := []string{"CREATE TABLE a (x INT)", "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN\n  SET @n = 1;\n  SET @m = 2;\nEND",
		"INSERT INTO a VALUES (1)", "SELECT 'no end'"}
	if got := Statements(script); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}
