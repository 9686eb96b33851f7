package server

import (
	"regexp"
	"testing"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

// TestServerTiming: the header lists each stage once, in order, with its
// duration in milliseconds, the way browsers' developer tools read it.
func TestServerTiming(t *testing.T) {
	var st serverTiming
	if got := st.header(); got != "" {
		t.Fatalf("no stage yet: header %q, want empty", got)
	}
	st.start = time.Now().Add(-1500 * time.Microsecond)
	for _, stage := range []string{"parse", "plan", "db", "a-stage-name-long-enough-to-outgrow-the-buffer-inside-the-request"} {
		st.mark(stage)
	}
	want := regexp.MustCompile(`^parse;dur=1\.[5-9]\d, plan;dur=\d+\.\d\d, db;dur=\d+\.\d\d, a-stage-name-long-enough-to-outgrow-the-buffer-inside-the-request;dur=\d+\.\d\d$`)
	if got := st.header(); !want.MatchString(got) {
		t.Fatalf("header %q does not match %s", got, want)
	}
}

// TestEntityETag: the ETag is weak, stable for the same row, changes with
// any property, and costs one allocation (its text).
func TestEntityETag(t *testing.T) {
	set := &metadata.EntitySet{Name: "Customers", Type: &metadata.EntityType{Name: "Customer", Properties: []*metadata.Property{
		{Name: "Id", Type: metadata.Int64}, {Name: "Name", Type: metadata.String}, {Name: "Note", Type: metadata.String}}}}
	row := []any{int64(7), "Acme", nil}
	tag := entityETag(set, row)
	if !regexp.MustCompile(`^W/"[A-Za-z0-9_-]{16}"$`).MatchString(tag) {
		t.Fatalf("ETag %q is not a weak tag of 16 base64url characters", tag)
	}
	if again := entityETag(set, []any{int64(7), "Acme", nil}); again != tag {
		t.Errorf("same row, different ETags: %q and %q", tag, again)
	}
	for _, changed := range [][]any{{int64(8), "Acme", nil}, {int64(7), "Acme ", nil}, {int64(7), "Acme", ""}} {
		if other := entityETag(set, changed); other == tag {
			t.Errorf("row %v has the ETag of %v", changed, row)
		}
	}
	if n := testing.AllocsPerRun(100, func() { entityETag(set, row) }); n > 1 {
		t.Errorf("entityETag allocates %v times, want 1", n)
	}
}
