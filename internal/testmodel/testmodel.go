// Package testmodel builds a small fixed service model by hand, so that
// parser, planner and SQL generator tests run without a database.
package testmodel

import (
	"github.com/odatagw/odatagw/metadata"
)

func prop(name string, t metadata.Type, nullable bool) *metadata.Property {
	return &metadata.Property{Name: name, Column: name, Type: t, Nullable: nullable}
}

// Service returns Customers (integer key), OrderLines (two-part key) and
// Tags (string key), with a property of every served type.
func Service() *metadata.Service {
	custProps := []*metadata.Property{
		prop("CustomerId", metadata.Int32, false),
		prop("Name", metadata.String, false),
		prop("Email", metadata.String, true),
		prop("City", metadata.String, true),
		prop("Country", metadata.String, false),
		prop("CreatedAt", metadata.DateTimeOffset, false),
		prop("BirthDate", metadata.Date, true),
		prop("IsActive", metadata.Boolean, false),
		prop("CreditLimit", metadata.Decimal, true),
		prop("Rating", metadata.Double, true),
		prop("Visits", metadata.Int64, true),
		prop("Level", metadata.Int16, true),
		prop("Ref", metadata.GUID, true),
		prop("Photo", metadata.Binary, true),
	}
	custProps[0].Computed = true
	custProps[1].MaxLength = 100
	cust, _ := metadata.NewEntityType("Customers", custProps, []string{"CustomerId"})
	lineProps := []*metadata.Property{
		prop("OrderId", metadata.Int32, false),
		prop("ProductId", metadata.Int32, false),
		prop("Quantity", metadata.Int32, false),
		prop("UnitPrice", metadata.Decimal, false),
	}
	lines, _ := metadata.NewEntityType("OrderLines", lineProps, []string{"OrderId", "ProductId"})
	tagProps := []*metadata.Property{prop("Code", metadata.String, false), prop("Label", metadata.String, true)}
	tags, _ := metadata.NewEntityType("Tags", tagProps, []string{"Code"})
	svc, err := metadata.NewService([]*metadata.EntitySet{
		{Name: "Customers", Type: cust, Schema: "public", Table: "Customers", PageSize: 1000},
		{Name: "OrderLines", Type: lines, Schema: "public", Table: "OrderLines", PageSize: 1000},
		{Name: "Tags", Type: tags, Schema: "public", Table: "Tags", PageSize: 1000, ReadOnly: true},
	})
	if err != nil {
		panic(err)
	}
	return svc
}
