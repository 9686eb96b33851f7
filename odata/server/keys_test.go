package server

import (
	"encoding/json"
	"testing"

	"github.com/odatagw/odatagw/internal/testmodel"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
)

// TestRemovedIDsAreTheEntitysOwn: a deleted row is announced in a delta
// under the id its entity had (@odata.id, Location), whatever its key
// holds; before, a string key that needs escaping was written raw.
func TestRemovedIDsAreTheEntitysOwn(t *testing.T) {
	svc := testmodel.Service()
	const root = "https://gw.example.com/odata/erp/"
	for _, c := range []struct {
		set    string
		values []any // the key's values, in key order
	}{
		{"Tags", []any{"plain"}},
		{"Tags", []any{"a b"}},
		{"Tags", []any{"a/b"}},
		{"Tags", []any{"100%"}},
		{"Tags", []any{"O'Brien"}},
		{"Tags", []any{"Zürich?#"}},
		{"Customers", []any{int32(42)}},
		{"OrderLines", []any{int32(7), int32(9)}},
	} {
		set, _ := svc.EntitySet(c.set)
		keyPos := make([]int, len(c.values))
		key := make([]plan.KeyValue, len(c.values))
		for i := range c.values {
			keyPos[i] = i
			key[i] = plan.KeyValue{Prop: set.Type.Key[i], Value: c.values[i]}
		}
		want := root + format.EntityID(set, c.values, keyPos)
		for _, v := range []odata.Version{odata.V40, odata.V401} {
			r := &request{root: root, plan: &plan.Plan{Set: set}, version: v}
			var got struct {
				ID  string `json:"id"`
				AID string `json:"@id"`
			}
			if err := json.Unmarshal(r.removed(key, "deleted"), &got); err != nil {
				t.Fatal(err)
			}
			if id := got.ID + got.AID; id != want {
				t.Errorf("%s %v (%s): removed as %s, the entity's id is %s", c.set, c.values, v, id, want)
			}
		}
	}
}
