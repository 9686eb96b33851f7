package odata

import (
	"net/http"
	"strings"
)

// Version is a protocol version this service speaks.
type Version string

const (
	V40  Version = "4.0"
	V401 Version = "4.01"
)

// OData's header names in net/http's canonical spelling. http.Header's Get
// and Set rewrite any other spelling into this one, making a new string on
// every call; header names match without regard to case, so clients see no
// difference.
const (
	HeaderVersion    = "Odata-Version"
	HeaderMaxVersion = "Odata-Maxversion"
)

// NegotiateVersion picks the response version from the request headers:
// 4.01 only when OData-MaxVersion allows it (or, without one, when the
// request declares OData-Version 4.01), 4.0 otherwise. A request that
// declares OData-Version below 4.0, or a MaxVersion below 4.0, is refused.
func NegotiateVersion(h http.Header) (Version, *Error) {
	if v := strings.TrimSpace(h.Get(HeaderVersion)); v != "" && !knownVersion(v) {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedVer,
			Message: "OData-Version " + v + " is not supported; this service speaks 4.0 and 4.01"}
	}
	max := strings.TrimSpace(h.Get(HeaderMaxVersion))
	switch {
	case max == "":
		// a client that names no maximum gets 4.0, which every 4.x client
		// reads (code generators that meet 4.01 may build the wrong client),
		// unless its request says it speaks 4.01
		if strings.TrimSpace(h.Get(HeaderVersion)) == "4.01" {
			return V401, nil
		}
		return V40, nil
	case max == "4.0":
		return V40, nil
	case strings.HasPrefix(max, "4."):
		return V401, nil
	case versionBelow4(max):
		return "", &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedVer,
			Message: "OData-MaxVersion " + max + " is below 4.0; this service speaks 4.0 and 4.01"}
	default:
		return V401, nil
	}
}

func knownVersion(v string) bool { return v == "4.0" || v == "4.01" }

func versionBelow4(v string) bool {
	return len(v) > 0 && v[0] >= '0' && v[0] <= '3'
}
