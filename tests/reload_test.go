package tests

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// syncBuffer is a log sink safe for the gateway's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func execSQL(t *testing.T, dsn string, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range sqls {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestReloadOnNotify: after a schema change, NOTIFY odatagw, 'reload'
// makes the running gateway serve the new model; a dropped column that
// Salesforce may have synced is logged as a warning.
func TestReloadOnNotify(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	logs := &syncBuffer{}
	tg := startListening(t, app.Settings{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Sources: erpSource(config.Source{DSN: db.DSN})}).target("postgres", "erp", nil)
	if r := tg.get(t, "Suppliers?$select=Phone"); r.Status != 400 {
		t.Fatalf("before: %d", r.Status)
	}
	execSQL(t, db.DSN,
		`ALTER TABLE "Suppliers" ADD COLUMN "Phone" varchar(30)`,
		`ALTER TABLE "Customers" DROP COLUMN "Rating"`,
		`CREATE TABLE "Warehouses" ("WarehouseId" integer PRIMARY KEY, "City" text)`,
		`NOTIFY odatagw, 'reload'`)
	eventually(t, 5*time.Second, "the new column is served", func() bool {
		return tg.get(t, "Suppliers?$select=Phone&$top=1").Status == 200
	})
	if r := tg.get(t, ""); !strings.Contains(string(r.Body), `"Warehouses"`) {
		t.Errorf("the new table is not in the service document: %s", r.Body)
	}
	if r := tg.get(t, "Customers?$select=Rating"); r.Status != 400 {
		t.Errorf("the dropped column is still served: %d", r.Status)
	}
	if l := logs.String(); !strings.Contains(l, "names Salesforce may have synced are gone") || !strings.Contains(l, "Customers.Rating") {
		t.Errorf("no warning about the dropped column in the log:\n%s", l)
	}
}

// TestReloadOnSIGHUP: the binary reloads every source on SIGHUP.
func TestReloadOnSIGHUP(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	bin := buildBinary(t)
	addr := freePort(t)
	root, pid := runGateway(t, bin, nil, "serve", "--listen", addr, "--source", "erp="+db.DSN)
	execSQL(t, db.DSN, `ALTER TABLE "Suppliers" ADD COLUMN "Fax" text`)
	if status, _ := fetch(t, root+"Suppliers?$select=Fax"); status != 400 {
		t.Fatalf("before the signal: %d", status)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the new column after SIGHUP", func() bool {
		status, _ := fetch(t, root+"Suppliers?$select=Fax&$top=1")
		return status == 200
	})
}

// TestReloadReachesReplicas: a reload on one replica, asked to propagate,
// reaches the others over Redis.
func TestReloadReachesReplicas(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	prefix := "odatagw_test_" + db.Name[len("odatagw_test_"):]
	a, ga := replicaGateway(t, db.DSN, redisURL, prefix)
	b, _ := replicaGateway(t, db.DSN, redisURL, prefix)
	_ = a
	execSQL(t, db.DSN, `ALTER TABLE "Suppliers" ADD COLUMN "Country" text`)
	if _, err := ga.Reload(context.Background(), "erp"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "replica B serves the new column", func() bool {
		return b.get(t, "Suppliers?$select=Country&$top=1").Status == 200
	})
}
