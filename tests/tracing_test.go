package tests

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/tracing"
)

// otlpReceiver is an OTLP/HTTP collector in the test: it keeps every span
// it receives, by name, with its parent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string][]span
}

type span struct{ id, parent, trace string }

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", 400)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				o.spans[sp.Name] = append(o.spans[sp.Name], span{id: string(sp.SpanId), parent: string(sp.ParentSpanId), trace: string(sp.TraceId)})
			}
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Write(b)
}

func (o *otlpReceiver) get(name string) []span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]span(nil), o.spans[name]...)
}

// TestTracesOverOTLP: with an OTLP endpoint, a request is one trace: the
// request's span, with the plan and the cache below it, and the database
// below the cache (or below the request where the cache is off); a
// caller's traceparent is continued.
func TestTracesOverOTLP(t *testing.T) {
	recv := &otlpReceiver{spans: map[string][]span{}}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	shutdown, err := tracing.Setup(collector.URL, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, app.Settings{Defaults: config.File{}})
	tg := g.demoTarget()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if r := tg.get(t, "Customers?$top=3&$count=true", "traceparent", parent); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	// with the cache off, the database's span is there all the same
	plain := startGateway(t, app.Settings{Defaults: uncached()}).demoTarget()
	const parentUncached = "00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b8-01"
	if r := plain.get(t, "Orders?$top=2", "traceparent", parentUncached); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	flush, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(flush); err != nil {
		t.Fatal(err)
	}
	reqs := recv.get("GET /odata/{source}")
	if len(reqs) != 2 {
		t.Fatalf("%d request spans: %v", len(reqs), recv.spans)
	}
	byTrace := func(id string) span {
		for _, r := range reqs {
			if string(r.trace) == string(hexBytes(id)) {
				return r
			}
		}
		t.Fatalf("no request span in trace %s", id)
		return span{}
	}
	root := byTrace("4bf92f3577b34da6a3ce929d0e0e4736")
	childOf := func(name, parentID string) span {
		for _, s := range recv.get(name) {
			if s.parent == parentID {
				return s
			}
		}
		t.Fatalf("no %q span below %x (have %v)", name, parentID, recv.spans)
		return span{}
	}
	childOf("plan", root.id)
	c := childOf("cache", root.id)
	childOf("database", c.id)
	childOf("database", byTrace("4bf92f3577b34da6a3ce929d0e0e4737").id)
}

func hexBytes(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, ch := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case ch >= '0' && ch <= '9':
				v |= byte(ch - '0')
			default:
				v |= byte(ch-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}
