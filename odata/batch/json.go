package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// JSON batch format (OData 4.01)

type jsonRequest struct {
	ID             string            `json:"id"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	AtomicityGroup string            `json:"atomicityGroup"`
	DependsOn      []string          `json:"dependsOn"`
	Headers        map[string]string `json:"headers"`
	Body           json.RawMessage   `json:"body"`
}

func parseJSON(body []byte) ([]Part, error) {
	var doc struct {
		Requests []jsonRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	closed := map[string]bool{}
	var parts []Part
	for i, q := range doc.Requests {
		if q.ID == "" {
			return nil, fmt.Errorf("request %d has no id", i+1)
		}
		if seen[q.ID] {
			return nil, fmt.Errorf("id %q is used twice", q.ID)
		}
		seen[q.ID] = true
		if q.Method == "" || q.URL == "" {
			return nil, fmt.Errorf("request %s needs a method and a url", q.ID)
		}
		if g := q.AtomicityGroup; g != "" {
			if closed[g] {
				return nil, fmt.Errorf("the requests of atomicity group %q must be adjacent", g)
			}
			if i > 0 && doc.Requests[i-1].AtomicityGroup != g && doc.Requests[i-1].AtomicityGroup != "" {
				closed[doc.Requests[i-1].AtomicityGroup] = true
			}
		} else if i > 0 && doc.Requests[i-1].AtomicityGroup != "" {
			closed[doc.Requests[i-1].AtomicityGroup] = true
		}
		for _, d := range q.DependsOn {
			if !seen[d] || d == q.ID {
				return nil, fmt.Errorf("request %s depends on %q, which does not come before it", q.ID, d)
			}
		}
		h := http.Header{}
		for k, v := range q.Headers {
			h.Set(k, v)
		}
		var b []byte
		if len(q.Body) > 0 && string(q.Body) != "null" {
			var s string
			if json.Unmarshal(q.Body, &s) == nil {
				b = []byte(s)
			} else {
				b = q.Body
			}
		}
		parts = append(parts, Part{ID: q.ID, Method: strings.ToUpper(q.Method), URL: q.URL, Header: h,
			Body: b, Group: q.AtomicityGroup, DependsOn: q.DependsOn})
	}
	return parts, nil
}

// writeJSON is the answer to a JSON batch.
func writeJSON(results []Result) []byte {
	var b bytes.Buffer
	b.WriteString(`{"responses":[`)
	for i, res := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		headers := map[string]string{}
		for _, k := range []string{"Content-Type", "Location", "OData-EntityId", "ETag", "Preference-Applied", "OData-Version"} {
			if v := res.Header.Get(k); v != "" {
				headers[strings.ToLower(k)] = v
			}
		}
		item := map[string]any{"id": res.ID, "status": res.Status, "headers": headers}
		if len(res.Body) > 0 {
			if json.Valid(res.Body) {
				item["body"] = json.RawMessage(res.Body)
			} else {
				item["body"] = string(res.Body)
			}
		}
		enc, _ := json.Marshal(item)
		b.Write(enc)
	}
	b.WriteString("]}")
	return b.Bytes()
}
