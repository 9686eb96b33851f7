package sources

import (
	"context"
	"testing"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

type plainSource struct{}

func (plainSource) Metadata() *metadata.Service                       { return nil }
func (plainSource) Query(context.Context, *plan.Query) (Rows, error)  { return nil, nil }
func (plainSource) Count(context.Context, *plan.Query) (int64, error) { return 0, nil }
func (plainSource) Ping(context.Context) error                        { return nil }
func (plainSource) Close() error                                      { return nil }

// advising is a source with an ability; wrapping wraps any source, and
// wrappingAdvisor is a wrapper with the ability itself.
type advising struct{ plainSource }

func (advising) AdviseIndexes(context.Context) ([]metadata.IndexAdvice, error) {
	return []metadata.IndexAdvice{{Set: "inner"}}, nil
}

type wrapping struct {
	plainSource
	inner Source
}

func (w wrapping) Unwrap() Source { return w.inner }

type wrappingAdvisor struct{ wrapping }

func (wrappingAdvisor) AdviseIndexes(context.Context) ([]metadata.IndexAdvice, error) {
	return []metadata.IndexAdvice{{Set: "wrapper"}}, nil
}

// TestAs: an ability is found through wrappers, the outermost first.
func TestAs(t *testing.T) {
	found := func(src Source) string {
		a, ok := As[IndexAdvisor](src)
		if !ok {
			return "none"
		}
		list, _ := a.AdviseIndexes(context.Background())
		return list[0].Set
	}
	for _, c := range []struct {
		name string
		src  Source
		want string
	}{
		{"the source itself", advising{}, "inner"},
		{"through a wrapper", wrapping{inner: advising{}}, "inner"},
		{"through two wrappers", wrapping{inner: wrapping{inner: advising{}}}, "inner"},
		{"a wrapper with the ability first", wrappingAdvisor{wrapping{inner: advising{}}}, "wrapper"},
		{"nobody has it", wrapping{inner: plainSource{}}, "none"},
		{"nil", nil, "none"},
	} {
		if got := found(c.src); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
