// Package tracing sends the gateway's traces over OTLP/HTTP when an
// endpoint is configured (off by default): a span per request, with the
// plan and the cache as its children, and a span per database query or
// count below the cache, or below the request where the cache is off
// (sources.Traced). Without an endpoint the spans cost nothing: no span is
// started.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is where the gateway's spans come from.
func Tracer() trace.Tracer { return otel.Tracer("github.com/odatagw/odatagw") }

// enabled is set once Setup has installed an exporter: until then a span
// is not even started (OpenTelemetry's global no-op still costs a little
// on every request).
var enabled atomic.Bool

// Enabled reports whether traces are sent.
func Enabled() bool { return enabled.Load() }

// noSpan is what Start gives while tracing is off: every method does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Start begins a span below ctx's.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, noSpan
	}
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// Setup sends traces to the OTLP/HTTP endpoint (http://collector:4318, or
// https://...) with the sampling ratio given (1: every request), and
// returns the function that flushes and stops on shutdown.
func Setup(endpoint string, ratio float64, version string) (func(context.Context) error, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the OTLP endpoint must be http://host:port or https://host:port, not %q", endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithTimeout(5 * time.Second)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, err
	}
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	res := resource.NewSchemaless(attribute.String("service.name", "odatagw"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	otel.SetTracerProvider(tp)
	enabled.Store(true)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		enabled.Store(false)
		return tp.Shutdown(ctx)
	}, nil
}
