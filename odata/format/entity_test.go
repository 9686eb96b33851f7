package format

import (
	"regexp"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

// TestEntityETag: the ETag is weak, stable for the same row, changes with
// any property, and costs one allocation (its text).
func TestEntityETag(t *testing.T) {
	set := &metadata.EntitySet{Name: "Customers", Type: &metadata.EntityType{Name: "Customer", Properties: []*metadata.Property{
		{Name: "Id", Type: metadata.Int64}, {Name: "Name", Type: metadata.String}, {Name: "Note", Type: metadata.String}}}}
	row := []any{int64(7), "Acme", nil}
	tag := EntityETag(set, row)
	if !regexp.MustCompile(`^W/"[A-Za-z0-9_-]{16}"$`).MatchString(tag) {
		t.Fatalf("ETag %q is not a weak tag of 16 base64url characters", tag)
	}
	if again := EntityETag(set, []any{int64(7), "Acme", nil}); again != tag {
		t.Errorf("same row, different ETags: %q and %q", tag, again)
	}
	for _, changed := range [][]any{{int64(8), "Acme", nil}, {int64(7), "Acme ", nil}, {int64(7), "Acme", ""}} {
		if other := EntityETag(set, changed); other == tag {
			t.Errorf("row %v has the ETag of %v", changed, row)
		}
	}
	if n := testing.AllocsPerRun(100, func() { EntityETag(set, row) }); n > 1 {
		t.Errorf("EntityETag allocates %v times, want 1", n)
	}
}
