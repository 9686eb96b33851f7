package batch

import (
	"fmt"
	"net/url"
	"strings"
)

// resolve turns a part's URL into a path below the service root: relative
// to the root, an absolute path, an absolute URL, or $id/... naming the
// entity an earlier request created.
func resolve(serviceRoot, raw string, byID map[string]*Result) (string, error) {
	// a space cannot stand in a URL; clients that write one mean %20
	raw = strings.ReplaceAll(raw, " ", "%20")
	if strings.HasPrefix(raw, "$") {
		ref, rest, _ := strings.Cut(raw[1:], "/")
		prev, ok := byID[ref]
		if !ok && ref != "" && !strings.HasPrefix(ref, "metadata") && !strings.HasPrefix(ref, "batch") {
			return "", fmt.Errorf("$%s refers to no earlier request of this batch", ref)
		}
		if ok {
			loc := prev.Header.Get("Location")
			if loc == "" {
				return "", fmt.Errorf("request %s created no entity to refer to", ref)
			}
			raw = loc
			if rest != "" {
				raw += "/" + rest
			}
		}
	}
	root, _ := url.Parse(serviceRoot)
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("malformed URL %q", raw)
	}
	switch {
	case u.IsAbs() || strings.HasPrefix(raw, "/"):
		if !strings.HasPrefix(u.EscapedPath(), root.EscapedPath()) {
			return "", fmt.Errorf("%q is not below the service root %s", raw, serviceRoot)
		}
		return u.RequestURI(), nil
	}
	return root.EscapedPath() + raw, nil
}
