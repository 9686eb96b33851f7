package sources

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/odatagw/odatagw/internal/tracing"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// Traced wraps a database's source so that each query and count it runs
// is a "database" span of the request's trace, whether a cache stands in
// front or not. While tracing is off it costs a call. Its other abilities
// are found through it (As).
func Traced(src Source) Source { return traced{src} }

type traced struct{ inner Source }

func (t traced) Unwrap() Source                 { return t.inner }
func (t traced) Metadata() *metadata.Service    { return t.inner.Metadata() }
func (t traced) Ping(ctx context.Context) error { return t.inner.Ping(ctx) }
func (t traced) Close() error                   { return t.inner.Close() }

// Query's span ends when the rows start to arrive: they then stream to
// the client, which the request's own span measures.
func (t traced) Query(ctx context.Context, q *plan.Query) (Rows, error) {
	ctx, end := databaseSpan(ctx, "query", q.Set.Name)
	rows, err := t.inner.Query(ctx, q)
	end(err)
	return rows, err
}

func (t traced) Count(ctx context.Context, q *plan.Query) (int64, error) {
	ctx, end := databaseSpan(ctx, "count", q.Set.Name)
	n, err := t.inner.Count(ctx, q)
	end(err)
	return n, err
}

func noEnd(error) {}

// databaseSpan starts the span of a call to the database; end records
// its error.
func databaseSpan(ctx context.Context, op, set string) (context.Context, func(error)) {
	if !tracing.Enabled() {
		return ctx, noEnd // not even the attributes are made
	}
	ctx, span := tracing.Start(ctx, "database", attribute.String("db.operation.name", op), attribute.String("odata.entity_set", set))
	if !span.IsRecording() {
		return ctx, func(error) {}
	}
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
