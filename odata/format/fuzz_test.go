package format

import "testing"

// FuzzNegotiate: any $format and Accept give JSON options or a 406.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"json", "application/json;odata.metadata=none;IEEE754Compatible=true", "text/html, */*;q=0.8", "xml", ";;=", ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, format, accept string) {
		if _, err := Negotiate(format, accept); err != nil && err.Status != 406 {
			t.Fatalf("status %d", err.Status)
		}
		if _, err := WantsJSONMetadata(format, accept); err != nil && err.Status != 406 {
			t.Fatalf("metadata: status %d", err.Status)
		}
	})
}
