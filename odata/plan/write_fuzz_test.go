package plan_test

import (
	"testing"

	"github.com/odatagw/odatagw/internal/testmodel"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
)

// FuzzWriteBody: any body for any write binds or fails with a clean
// 4xx/501 error; nothing panics, and every bound value passed its checks.
func FuzzWriteBody(f *testing.F) {
	for _, s := range []string{
		`{"Name":"Acme","Country":"US","CreatedAt":"2024-01-31T10:00:00Z","IsActive":true}`,
		`{"CreditLimit":"12.50","Visits":"9007199254740993","Level":-32768,"Ref":"01234567-89AB-cdef-0123-456789abcdef"}`,
		`{"BirthDate":"2024-02-29T00:00:00Z","Rating":"NaN","Photo":"3q2-7w","@odata.etag":"x"}`,
		`{"value":"x"}`, `[]`, `{"Name":null}`, `{"CustomerId":1}`, `{"Orders@odata.bind":["Orders(1)"]}`,
	} {
		f.Add(s, uint8(0))
	}
	svc := testmodel.Service()
	f.Fuzz(func(t *testing.T, body string, k uint8) {
		// every line of the write matrix, and a method it refuses
		targets := [][2]string{{"POST", "Customers"}, {"PATCH", "Customers(1)"}, {"PUT", "Customers(1)"},
			{"MERGE", "Customers(1)"}, {"DELETE", "Customers(1)"}, {"PUT", "Customers(1)/Name"},
			{"DELETE", "Customers(1)/Email"}, {"PATCH", "Customers"}}
		target := targets[int(k)%len(targets)]
		req, perr := uri.Parse(target[1], "")
		if perr != nil {
			t.Fatal(perr)
		}
		w, err := plan.BuildWrite(svc, req, target[0], []byte(body))
		if err != nil {
			if err.Status != 400 && err.Status != 404 && err.Status != 405 && err.Status != 501 {
				t.Fatalf("status %d: %v", err.Status, err)
			}
			return
		}
		for _, a := range w.Assign {
			if a.Value == nil && !a.Default && !a.Prop.Nullable {
				t.Fatalf("null bound to non-nullable %s", a.Prop.Name)
			}
			if s, ok := a.Value.(string); ok && a.Prop.MaxLength > 0 && len([]rune(s)) > a.Prop.MaxLength {
				t.Fatalf("%s longer than MaxLength", a.Prop.Name)
			}
		}
	})
}
