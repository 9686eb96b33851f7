package sources

import (
	"reflect"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

func model(t *testing.T, sets map[string][]string) *metadata.Service {
	var out []*metadata.EntitySet
	for name, props := range sets {
		var ps []*metadata.Property
		for _, p := range props {
			ps = append(ps, &metadata.Property{Name: p, Column: p, Type: metadata.String})
		}
		et, err := metadata.NewEntityType(name, ps, props[:1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &metadata.EntitySet{Name: name, Type: et})
	}
	svc, err := metadata.NewService(out)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestCompare(t *testing.T) {
	old := model(t, map[string][]string{"Customers": {"Id", "Name", "Rating"}, "Legacy": {"Id"}})
	new := model(t, map[string][]string{"Customers": {"Id", "Name", "Email"}, "Warehouses": {"Id"}})
	want := Changes{RemovedSets: []string{"Legacy"}, AddedSets: []string{"Warehouses"},
		RemovedProperties: []string{"Customers.Rating"}, AddedProperties: []string{"Customers.Email"}}
	if got := Compare(old, new); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if Compare(old, old).Any() {
		t.Fatal("an unchanged model reports changes")
	}
}
