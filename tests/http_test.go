package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// encodeQuery percent-encodes a readable URL the way a client library does:
// spaces, quotes stay readable in the scenario tables.
func encodeQuery(readable string) string {
	path, query, hasQuery := strings.Cut(readable, "?")
	path = strings.ReplaceAll(path, " ", "%20")
	if !hasQuery {
		return path
	}
	var parts []string
	for _, p := range strings.Split(query, "&") {
		name, value, _ := strings.Cut(p, "=")
		enc := strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "#", "%23", "+", "%2B", "\"", "%22")
		var v strings.Builder
		for _, c := range []byte(enc.Replace(value)) {
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&v, "%%%02X", c)
			} else {
				v.WriteByte(c)
			}
		}
		parts = append(parts, name+"="+v.String())
	}
	return path + "?" + strings.Join(parts, "&")
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body, keeping numbers as their exact text.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not JSON (%v): %.300s", err, r.Body)
	}
	return m
}

// do sends a request; headers come in name, value pairs.
func do(t *testing.T, method, url string, body []byte, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// get requests a readable URL below the target's service root.
func (tg *target) get(t *testing.T, readable string, headers ...string) response {
	t.Helper()
	return do(t, http.MethodGet, tg.root+encodeQuery(readable), nil, headers...)
}

// errorCode returns the OData error code of an error response.
func errorCode(t *testing.T, r response) string {
	t.Helper()
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	return e["code"].(string)
}

// followPages reads the pages after body by their nextLinks, with the
// same headers, handing each to page; it returns the last page and how
// many there were in all.
func followPages(t *testing.T, body map[string]any, headers []string, page func(map[string]any)) (map[string]any, int) {
	t.Helper()
	pages := 1
	for {
		next, ok := body["@odata.nextLink"].(string)
		if !ok {
			return body, pages
		}
		pages++
		res := do(t, "GET", next, nil, headers...)
		if res.Status != 200 {
			t.Fatalf("nextLink %s: status %d: %s", next, res.Status, res.Body)
		}
		body = res.JSON(t)
		page(body)
	}
}
