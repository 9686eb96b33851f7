package demo

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlite"
)

// Sizes of the demo tables.
const (
	Customers = 10_000
	Products  = 200
	Orders    = 50_000
)

const schema = `
CREATE TABLE Customers (
  CustomerId  INTEGER PRIMARY KEY,
  Name        VARCHAR(100) NOT NULL,
  Email       VARCHAR(255),
  Phone       VARCHAR(30),
  City        VARCHAR(60),
  Country     VARCHAR(40) NOT NULL,
  CreatedAt   DATETIME NOT NULL,
  BirthDate   DATE,
  IsActive    BOOLEAN NOT NULL,
  CreditLimit NUMERIC(12,2),
  Rating      REAL,
  ExternalRef UUID NOT NULL,
  Notes       TEXT,
  Avatar      BLOB
);
CREATE INDEX Customers_Country ON Customers (Country);
CREATE INDEX Customers_City ON Customers (City);
CREATE TABLE Products (
  ProductId   INTEGER PRIMARY KEY,
  Name        VARCHAR(80) NOT NULL,
  Category    VARCHAR(40) NOT NULL,
  UnitPrice   NUMERIC(10,2) NOT NULL,
  WeightKg    DOUBLE,
  InStock     BOOLEAN NOT NULL,
  Sku         VARCHAR(20) NOT NULL UNIQUE
);
CREATE TABLE Orders (
  OrderId      INTEGER PRIMARY KEY,
  CustomerId   INTEGER NOT NULL REFERENCES Customers (CustomerId),
  OrderDate    DATE NOT NULL,
  RequiredDate DATE,
  ShippedDate  DATETIME,
  Status       VARCHAR(20) NOT NULL,
  Total        NUMERIC(12,2) NOT NULL,
  Priority     SMALLINT NOT NULL
);
CREATE INDEX Orders_CustomerId ON Orders (CustomerId);
CREATE TABLE OrderLines (
  OrderId    INTEGER NOT NULL REFERENCES Orders (OrderId),
  ProductId  INTEGER NOT NULL REFERENCES Products (ProductId),
  Quantity   INT NOT NULL,
  UnitPrice  NUMERIC(10,2) NOT NULL,
  Discount   REAL NOT NULL,
  PRIMARY KEY (OrderId, ProductId)
);
`

var (
	firstNames = []string{"Anna", "Ben", "Chloé", "David", "Eva", "François", "Grace", "Hiro", "Ines", "Jack",
		"Kai", "Lena", "Mateo", "Nora", "Oliver", "Priya", "Quinn", "Rosa", "Søren", "Tariq", "Uma", "Victor",
		"Wen", "Ximena", "Yusuf", "Zoë"}
	lastNames = []string{"Smith", "O'Brien", "Müller", "García", "Dubois", "Tanaka", "Kowalski", "Nguyen",
		"Rossi", "Johansson", "Acme", "Okafor", "Silva", "Cohen", "Patel", "D'Angelo", "Łukasz", "Brown"}
	companies = []string{"", "", "", " Ltd", " GmbH", " Inc.", " & Sons", " S.A."}
	cities    = map[string][]string{
		"USA":       {"New York", "Chicago", "Austin", "Seattle", "Boston"},
		"Canada":    {"Toronto", "Montréal", "Vancouver"},
		"UK":        {"London", "Leeds", "Bristol"},
		"Germany":   {"Berlin", "München", "Köln"},
		"France":    {"Paris", "Lyon", "Nantes"},
		"Japan":     {"東京", "Osaka"},
		"Brazil":    {"São Paulo", "Recife"},
		"Australia": {"Sydney", "Perth"},
	}
	countries  = []string{"USA", "USA", "USA", "Canada", "UK", "Germany", "France", "Japan", "Brazil", "Australia"}
	categories = []string{"Beverages", "Condiments", "Confections", "Dairy", "Grains", "Meat", "Produce", "Seafood"}
	statuses   = []string{"Open", "Shipped", "Shipped", "Shipped", "Cancelled", "On Hold"}
)

var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// createAt writes the demo database to path, replacing what is there.
func createAt(ctx context.Context, path string) error {
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(f)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("demo schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r := rand.New(rand.NewPCG(42, 2024))
	if err := fill(ctx, tx, r); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	return nil
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// fill writes the demo's rows, the same at every start (r is seeded).
func fill(ctx context.Context, tx *sql.Tx, r *rand.Rand) error {
	if err := fillCustomers(ctx, tx, r); err != nil {
		return err
	}
	prices, err := fillProducts(ctx, tx, r)
	if err != nil {
		return err
	}
	return fillOrders(ctx, tx, r, prices)
}

// fillCustomers writes the customers, with some of every optional column
// left null.
func fillCustomers(ctx context.Context, tx *sql.Tx, r *rand.Rand) error {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO Customers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for id := 1; id <= Customers; id++ {
		first, last := pick(r, firstNames), pick(r, lastNames)
		name := first + " " + last + pick(r, companies)
		var email, phone, birth, credit, rating, notes, avatar any
		if r.IntN(10) > 0 {
			email = fmt.Sprintf("customer%d@example.com", id)
		}
		if r.IntN(5) > 0 {
			phone = fmt.Sprintf("+1-555-%04d", r.IntN(10000))
		}
		if r.IntN(4) > 0 {
			birth = epoch.AddDate(-20-r.IntN(50), 0, r.IntN(365)).Format("2006-01-02")
		}
		if r.IntN(3) > 0 {
			credit = float64(r.IntN(1_000_000)) / 100
		}
		if r.IntN(6) > 0 {
			rating = float64(r.IntN(50)) / 10
		}
		if r.IntN(8) == 0 {
			notes = fmt.Sprintf("Prefers \"express\" shipping; contact %s before 5 p.m. — ñ, ü, 中文 ok.", first)
		}
		if r.IntN(20) == 0 {
			avatar = []byte{0x89, 'P', 'N', 'G', byte(id), byte(id >> 8)}
		}
		country := pick(r, countries)
		created := epoch.Add(time.Duration(r.Int64N(int64(5 * 365 * 24 * time.Hour)))).Truncate(time.Millisecond)
		guid := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		if _, err := ins.ExecContext(ctx, id, name, email, phone, pick(r, cities[country]), country,
			created.Format(sqlite.TimestampLayout), birth, r.IntN(7) > 0, credit, rating, guid, notes, avatar); err != nil {
			return fmt.Errorf("demo customers: %w", err)
		}
	}
	return ins.Close()
}

// fillProducts writes the products and returns their prices by id.
func fillProducts(ctx context.Context, tx *sql.Tx, r *rand.Rand) ([]float64, error) {
	prices := make([]float64, Products+1)
	ins, err := tx.PrepareContext(ctx, `INSERT INTO Products VALUES (?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	for id := 1; id <= Products; id++ {
		cat := pick(r, categories)
		prices[id] = float64(100+r.IntN(20000)) / 100
		var weight any
		if r.IntN(5) > 0 {
			weight = float64(r.IntN(5000)) / 1000
		}
		if _, err := ins.ExecContext(ctx, id, fmt.Sprintf("%s #%d", cat, id), cat, prices[id], weight, r.IntN(5) > 0, fmt.Sprintf("SKU-%05d", id*7)); err != nil {
			return nil, fmt.Errorf("demo products: %w", err)
		}
	}
	return prices, ins.Close()
}

// fillOrders writes the orders, each with one to five lines of distinct
// products at their prices, and the order total those lines make.
func fillOrders(ctx context.Context, tx *sql.Tx, r *rand.Rand, prices []float64) error {
	orders, err := tx.PrepareContext(ctx, `INSERT INTO Orders VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer orders.Close()
	lines, err := tx.PrepareContext(ctx, `INSERT INTO OrderLines VALUES (?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer lines.Close()
	for i := 0; i < Orders; i++ {
		id := 10248 + i
		orderDate := epoch.AddDate(0, 0, r.IntN(5*365))
		var required, shipped any
		if r.IntN(5) > 0 {
			required = orderDate.AddDate(0, 0, 7+r.IntN(21)).Format("2006-01-02")
		}
		status := pick(r, statuses)
		if status == "Shipped" {
			shipped = orderDate.Add(time.Duration(24+r.IntN(240)) * time.Hour).Add(time.Duration(r.IntN(3600)) * time.Second).Format(sqlite.TimestampLayout)
		}
		n := 1 + r.IntN(5)
		used := map[int]bool{}
		total := 0.0
		type line struct {
			product, qty int
			price, disc  float64
		}
		var ls []line
		for len(ls) < n {
			p := 1 + r.IntN(Products)
			if used[p] {
				continue
			}
			used[p] = true
			l := line{p, 1 + r.IntN(20), prices[p], float64(r.IntN(4)*5) / 100}
			total += float64(l.qty) * l.price * (1 - l.disc)
			ls = append(ls, l)
		}
		total = float64(int64(total*100+0.5)) / 100
		if _, err := orders.ExecContext(ctx, id, 1+r.IntN(Customers), orderDate.Format("2006-01-02"), required, shipped, status, total, 1+r.IntN(3)); err != nil {
			return fmt.Errorf("demo orders: %w", err)
		}
		for _, l := range ls {
			if _, err := lines.ExecContext(ctx, id, l.product, l.qty, l.price, l.disc); err != nil {
				return fmt.Errorf("demo order lines: %w", err)
			}
		}
	}
	return nil
}

// Summaries are the demo's summary sets: what its reports group by,
// computed by the database (docs/salesforce.md).
var Summaries = []sources.Summary{
	{Name: "orders_by_month", From: "Orders",
		Dimensions: []sources.Dimension{{Column: "Status"}, {Column: "OrderDate", Bucket: "month"}},
		Measures: []sources.Measure{{Name: "orders", Of: "count"}, {Name: "customers", Of: "count_distinct(CustomerId)"},
			{Name: "total", Of: "sum(Total)"}, {Name: "average", Of: "avg(Total)"}, {Name: "last_shipped", Of: "max(ShippedDate)"}}},
	{Name: "customer_years", From: "Orders",
		Dimensions: []sources.Dimension{{Column: "CustomerId"}, {Column: "OrderDate", Bucket: "year"}},
		Measures:   []sources.Measure{{Name: "orders", Of: "count"}, {Name: "total", Of: "sum(Total)"}},
		Where:      "Status ne 'Cancelled'"},
	{Name: "category_sales", From: "OrderLines",
		Dimensions: []sources.Dimension{{Column: "ProductId.Category"}, {Column: "OrderId.OrderDate", Bucket: "quarter"}},
		Measures: []sources.Measure{{Name: "lines", Of: "count"}, {Name: "units", Of: "sum(Quantity)"},
			{Name: "avg_price", Of: "avg(UnitPrice)"}, {Name: "max_price", Of: "max(UnitPrice)"}}},
}

// Open creates the demo database and opens it as a source named name;
// closing the source removes its file. The file lives in one folder per
// user (see demoFile), where each start also removes what gateways that
// were killed left there, so a killed process leaves no file for long.
func Open(ctx context.Context, opts sources.Options) (sources.Source, error) {
	path, release, err := demoFile()
	if err != nil {
		return nil, err
	}
	if err := createAt(ctx, path); err != nil {
		release()
		return nil, err
	}
	opts.DSN = "sqlite:" + path
	if opts.Summaries == nil {
		opts.Summaries = Summaries
	}
	src, err := sqlite.OpenFile(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	src.OnClose = release
	return src, nil
}
