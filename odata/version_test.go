package odata

import (
	"net/http"
	"net/textproto"
	"testing"
)

// TestHeaderNamesAreCanonical: the header name constants are spelt as
// net/http spells them, which is what lets Get and Set skip rewriting them.
func TestHeaderNamesAreCanonical(t *testing.T) {
	for _, name := range []string{HeaderVersion, HeaderMaxVersion} {
		if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
			t.Errorf("%q is not canonical; net/http spells it %q", name, c)
		}
	}
}

// TestNegotiateVersion: the answer's version from the request's headers,
// whatever case the client spells their names in.
func TestNegotiateVersion(t *testing.T) {
	tests := []struct {
		header map[string]string
		want   Version
		status int
	}{
		{nil, V40, 0},
		{map[string]string{"OData-MaxVersion": "4.01"}, V401, 0},
		{map[string]string{"odata-maxversion": "4.0"}, V40, 0},
		{map[string]string{"ODATA-MAXVERSION": "4.7"}, V401, 0},
		{map[string]string{"OData-Version": "4.01"}, V401, 0},
		{map[string]string{"OData-Version": "4.0", "OData-MaxVersion": "4.01"}, V401, 0},
		{map[string]string{"OData-Version": "3.0"}, "", http.StatusBadRequest},
		{map[string]string{"OData-MaxVersion": "3.0"}, "", http.StatusBadRequest},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		got, err := NegotiateVersion(h)
		if tc.status != 0 {
			if err == nil || err.Status != tc.status {
				t.Errorf("%v: got %q, %v; want status %d", tc.header, got, err, tc.status)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: got %q, %v; want %q", tc.header, got, err, tc.want)
		}
	}
}
