package odata

import (
	"net/http"
	"testing"
)

// FuzzHeaders: the Prefer and version headers never panic, and a version
// refusal is always a 400.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{"odata.maxpagesize=50", `return=minimal, odata.track-changes`, `respond-async; wait=10, x="a,b"`, "4.0", "4.01", "3.0", ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, prefer, version string) {
		ParsePrefer([]string{prefer})
		h := http.Header{}
		h.Set("OData-MaxVersion", version)
		h.Set("OData-Version", prefer)
		if _, err := NegotiateVersion(h); err != nil && err.Status != 400 {
			t.Fatalf("status %d", err.Status)
		}
	})
}
