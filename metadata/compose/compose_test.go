package compose

import (
	"strings"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

// model is a member's model of sets, each with an integer key id and the
// properties named, of the types given ("name:Edm.String").
func model(t *testing.T, sets map[string][]string) *metadata.Service {
	t.Helper()
	var out []*metadata.EntitySet
	for name, props := range sets {
		ps := []*metadata.Property{{Name: "id", Column: "id", Type: metadata.Int64}}
		for _, p := range props {
			n, typ, _ := strings.Cut(p, ":")
			ps = append(ps, &metadata.Property{Name: n, Column: n, Type: metadata.Type(typ), Nullable: true})
		}
		et, err := metadata.NewEntityType(name, ps, []string{"id"})
		if err != nil {
			t.Fatal(err)
		}
		es := &metadata.EntitySet{Name: name, Type: et, Table: name}
		if p, ok := et.Property("number"); ok {
			es.UniqueKeys = [][]*metadata.Property{{p}}
		}
		out = append(out, es)
	}
	svc, err := metadata.NewService(out)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestCompose(t *testing.T) {
	billing := model(t, map[string][]string{"invoices": {"number:Edm.String", "total:Edm.Double"}, "regions": {"name:Edm.String"}})
	shop := model(t, map[string][]string{"orders": {"invoice_no:Edm.String", "invoice_id:Edm.Int32", "total:Edm.Double"}, "regions": {"name:Edm.String"}})
	members := func(shopPrefix string) []Member {
		return []Member{{Name: "billing", Model: billing}, {Name: "shop", Prefix: shopPrefix, Model: shop}}
	}
	for _, c := range []struct {
		name      string
		members   []Member
		names     map[string]string
		relations map[string]string
		sets      []string // the service's sets, when it composes
		err       []string // what the error says, when it does not
	}{
		{name: "prefix", members: members("shop_"), sets: []string{"invoices", "regions", "shop_orders", "shop_regions"}},
		{name: "one set renamed", members: members(""), names: map[string]string{"shop.regions": "ShopRegions"},
			sets: []string{"ShopRegions", "invoices", "orders", "regions"}},
		{name: "clash", members: members(""),
			err: []string{"regions is taken by both billing.regions and shop.regions", "services.erp.sources.shop.prefix: shop_", "services.erp.names: {shop.regions: ShopRegions}"}},
		{name: "a rename that clashes", members: members("shop_"), names: map[string]string{"shop.orders": "invoices"},
			err: []string{"invoices is taken by both billing.invoices and shop.orders"}},
		{name: "a rename of no set", members: members("shop_"), names: map[string]string{"shop.order": "Orders"},
			err: []string{"shop.order names no set"}},
		{name: "relation to the key", members: members("shop_"), relations: map[string]string{"shop_orders.invoice_id": "billing.invoices.id"},
			sets: []string{"invoices", "regions", "shop_orders", "shop_regions"}},
		{name: "relation to a unique column", members: members("shop_"), relations: map[string]string{"shop_orders.invoice_no": "billing.invoices.number"},
			sets: []string{"invoices", "regions", "shop_orders", "shop_regions"}},
		{name: "relation to a column that is not unique", members: members("shop_"), relations: map[string]string{"shop_orders.total": "billing.invoices.total"},
			err: []string{"billing.invoices.total is not unique"}},
		{name: "relation between kinds", members: members("shop_"), relations: map[string]string{"shop_orders.invoice_no": "billing.invoices.id"},
			err: []string{"Edm.String", "Edm.Int64", "one kind"}},
		{name: "relation from the member's name", members: members("shop_"), relations: map[string]string{"orders.invoice_no": "billing.invoices.number"},
			err: []string{"the service has no entity set orders"}},
		{name: "relation to no property", members: members("shop_"), relations: map[string]string{"shop_orders.invoice_no": "billing.invoices.no"},
			err: []string{"billing.invoices has no property no"}},
		{name: "relation to no member", members: members("shop_"), relations: map[string]string{"shop_orders.invoice_no": "bill.invoices.number"},
			err: []string{"member.set.property, with a member"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.members, Settings{Service: "erp", Names: c.names, Relations: c.relations})
			if len(c.err) > 0 {
				if err == nil {
					t.Fatal("composed")
				}
				for _, w := range c.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q not in %v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, es := range s.Model.Sets {
				got = append(got, es.Name)
				if es.Type.Name != es.Name {
					t.Errorf("set %s has type %s: a type is named as its set", es.Name, es.Type.Name)
				}
			}
			if strings.Join(got, " ") != strings.Join(c.sets, " ") {
				t.Errorf("sets %v, want %v", got, c.sets)
			}
			for from := range c.relations {
				set, _, _ := strings.Cut(from, ".")
				es, _ := s.Model.EntitySet(set)
				if len(es.References) == 0 || es.References[0].TargetSet != "invoices" {
					t.Errorf("%s: no reference to invoices first: %+v", from, es.References)
				}
			}
		})
	}
}

// TestComposeSharesTheMembersSets: a service's set is its member's under
// another name: the member's own model is left as it was, and Origin and
// NameOf lead from one name to the other.
func TestComposeSharesTheMembersSets(t *testing.T) {
	shop := model(t, map[string][]string{"orders": {"total:Edm.Double"}})
	s, err := New([]Member{{Name: "shop", Prefix: "shop_", Model: shop}}, Settings{Service: "erp"})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := s.Origin("shop_orders")
	own, _ := shop.EntitySet("orders")
	if !ok || o.Member != "shop" || o.Set != own {
		t.Fatalf("origin %+v", o)
	}
	if n, ok := s.NameOf("shop", "orders"); !ok || n != "shop_orders" {
		t.Errorf("NameOf: %q", n)
	}
	svcSet, _ := s.Model.EntitySet("shop_orders")
	if own.Name != "orders" || own.Type.Name != "orders" || svcSet.Type.Properties[0] != own.Type.Properties[0] {
		t.Errorf("the member's set changed, or the service's does not share its properties")
	}
	if _, ok := svcSet.Type.Property("total"); !ok {
		t.Error("the renamed type does not find its properties")
	}
}
