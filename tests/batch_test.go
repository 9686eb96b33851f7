package tests

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

func productBody(sku string) string {
	return fmt.Sprintf(`{"Name":"Batch %s","Category":"T","UnitPrice":1,"InStock":true,"Sku":%q}`, sku, sku)
}

// TestJSONBatchAtomicityGroup: the writes of a group land together or not
// at all; requests outside it, and those depending on it, behave as the
// protocol says.
func TestJSONBatchAtomicityGroup(t *testing.T) {
	tg := writeTargets(t)
	demo := tg[len(tg)-1] // Products exists in the demo only
	batch := `{"requests":[
	  {"id":"ok","atomicityGroup":"good","method":"POST","url":"Products","body":` + productBody("BG-1") + `},
	  {"id":"ok2","atomicityGroup":"good","method":"PATCH","url":"$ok","body":{"UnitPrice":2.5}},
	  {"id":"a","atomicityGroup":"bad","method":"POST","url":"Products","body":` + productBody("BB-1") + `},
	  {"id":"b","atomicityGroup":"bad","method":"PATCH","url":"Products(1)","body":{"UnitPrice":"cheap"}},
	  {"id":"after","dependsOn":["b"],"method":"GET","url":"Products(1)"},
	  {"id":"alone","method":"GET","url":"Products/$count"}
	]}`
	res := do(t, http.MethodPost, demo.root+"$batch", []byte(batch), "Content-Type", "application/json")
	if res.Status != 200 {
		t.Fatalf("batch: %d %s", res.Status, res.Body)
	}
	got := map[string]float64{}
	for _, r := range res.JSON(t)["responses"].([]any) {
		m := r.(map[string]any)
		var s float64
		fmt.Sscan(fmt.Sprint(m["status"]), &s)
		got[m["id"].(string)] = s
	}
	want := map[string]float64{"ok": 201, "ok2": 204, "a": 424, "b": 400, "after": 424, "alone": 200}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("request %s: status %v, want %v", id, got[id], s)
		}
	}
	if n := mustRows(t, demo, `SELECT count(*) FROM "Products" WHERE "Sku" = 'BB-1'`); n != "0" {
		t.Fatalf("the failed group left %s rows behind", n)
	}
	if p := mustRows(t, demo, `SELECT "UnitPrice" FROM "Products" WHERE "Sku" = 'BG-1'`); !sameRow([]string{p}, []string{"2.5"}) {
		t.Fatalf("the good group: price %s, want 2.5", p)
	}
}

// multipartBatch builds a 4.0 multipart batch: each item is either one
// request or a change set (a slice of requests).
func multipartBatch(items ...any) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	writeReq := func(mw *multipart.Writer, id, req string) {
		h := map[string][]string{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
		if id != "" {
			h["Content-ID"] = []string{id}
		}
		pw, _ := mw.CreatePart(h)
		pw.Write([]byte(req))
	}
	for i, it := range items {
		switch v := it.(type) {
		case string:
			writeReq(w, "", v)
		case []string:
			var cs bytes.Buffer
			cw := multipart.NewWriter(&cs)
			for k, r := range v {
				writeReq(cw, fmt.Sprint(i*10+k+1), r)
			}
			cw.Close()
			pw, _ := w.CreatePart(map[string][]string{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
			pw.Write(cs.Bytes())
		}
	}
	w.Close()
	return b.Bytes(), "multipart/mixed; boundary=" + w.Boundary()
}

func jsonRequest(method, url, body string) string {
	return method + " " + url + " HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + body
}

// TestMultipartBatchChangeSets: a 4.0 multipart batch with a read, a
// change set that succeeds and one that fails and leaves nothing behind.
func TestMultipartBatchChangeSets(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			body, ct := multipartBatch(
				"GET Customers/$count HTTP/1.1\r\n\r\n",
				[]string{
					jsonRequest("POST", "Customers", customerBody(tg, "Batch Good")),
					jsonRequest("PATCH", "$11", `{"City":"Batchville"}`), // Content-ID 11: the create above
				},
				[]string{
					jsonRequest("POST", "Customers", customerBody(tg, "Batch Bad")),
					jsonRequest("PATCH", "Customers(1)", `{"Name":null}`),
				},
			)
			res := do(t, http.MethodPost, tg.root+"$batch", body, "Content-Type", ct)
			if res.Status != 200 {
				t.Fatalf("batch: %d %s", res.Status, res.Body)
			}
			_, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			var statuses []string
			mr := multipart.NewReader(bytes.NewReader(res.Body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				mt, inner, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				if mt == "multipart/mixed" {
					ir := multipart.NewReader(p, inner["boundary"])
					var set []string
					for {
						ip, err := ir.NextPart()
						if err == io.EOF {
							break
						}
						b, _ := io.ReadAll(ip)
						set = append(set, strings.Fields(string(b))[1])
					}
					statuses = append(statuses, "["+strings.Join(set, " ")+"]")
					continue
				}
				b, _ := io.ReadAll(p)
				statuses = append(statuses, strings.Fields(string(b))[1])
			}
			if got := strings.Join(statuses, " "); got != "200 [201 204] 400" {
				t.Fatalf("responses %q, want \"200 [201 204] 400\"", got)
			}
			if n := mustRows(t, tg, `SELECT count(*) FROM "Customers" WHERE "Name" = 'Batch Bad'`); n != "0" {
				t.Fatalf("the failed change set left %s rows", n)
			}
			if c := mustRows(t, tg, `SELECT "City" FROM "Customers" WHERE "Name" = 'Batch Good'`); c != "Batchville" {
				t.Fatalf("the good change set: City %q", c)
			}
		})
	}
}

func TestBatchLimits(t *testing.T) {
	tg := demoTarget
	var reqs []string
	for i := 0; i <= 1000; i++ {
		reqs = append(reqs, fmt.Sprintf(`{"id":"%d","method":"GET","url":"Customers/$count"}`, i))
	}
	if r := do(t, http.MethodPost, tg.root+"$batch", []byte(`{"requests":[`+strings.Join(reqs, ",")+`]}`), "Content-Type", "application/json"); r.Status != 400 {
		t.Errorf("1001 requests: %d", r.Status)
	}
	nested := `{"requests":[{"id":"1","method":"POST","url":"$batch","headers":{"content-type":"application/json"},"body":{"requests":[]}}]}`
	r := do(t, http.MethodPost, tg.root+"$batch", []byte(nested), "Content-Type", "application/json")
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":400`) {
		t.Errorf("nested batch: %d %s", r.Status, r.Body)
	}
	readInSet := `{"requests":[{"id":"1","atomicityGroup":"g","method":"GET","url":"Customers(1)"}]}`
	if r := do(t, http.MethodPost, tg.root+"$batch", []byte(readInSet), "Content-Type", "application/json"); r.Status != 400 {
		t.Errorf("a read in an atomicity group: %d %s", r.Status, r.Body)
	}
	other := `{"requests":[{"id":"1","method":"GET","url":"http://elsewhere/odata/other/Customers"}]}`
	if r := do(t, http.MethodPost, tg.root+"$batch", []byte(other), "Content-Type", "application/json"); !strings.Contains(string(r.Body), `"status":400`) {
		t.Errorf("a URL outside the service: %s", r.Body)
	}
}

// TestBatchURLWithSpaces: a part whose URL carries raw spaces, as
// @odata/client writes it ($orderby=CustomerId desc), answers the query
// as sent: the last customers, not the first; in a JSON batch too. A
// multipart line with spaces and no HTTP version is refused, not guessed.
func TestBatchURLWithSpaces(t *testing.T) {
	tg := demoTarget
	want := do(t, http.MethodGet, tg.root+"Customers?$select=CustomerId&$top=2&$orderby=CustomerId%20desc", nil)
	if want.Status != 200 || !strings.Contains(string(want.Body), `"CustomerId":10000`) {
		t.Fatalf("the plain request: %d %s", want.Status, want.Body)
	}
	body, ct := multipartBatch("GET Customers?$select=CustomerId&$top=2&$orderby=CustomerId desc HTTP/1.1\r\nAccept: application/json\r\n\r\n",
		"GET Customers?$filter=Country eq 'USA' and City eq 'Austin'&$select=City&$top=1 HTTP/1.1\r\n\r\n")
	res := do(t, http.MethodPost, tg.root+"$batch", body, "Content-Type", ct)
	if res.Status != 200 {
		t.Fatalf("batch: %d %s", res.Status, res.Body)
	}
	if !bytes.Contains(res.Body, []byte(`"value":[{"CustomerId":10000},{"CustomerId":9999}]`)) {
		t.Errorf("the multipart part did not answer the last customers:\n%s", res.Body)
	}
	if !bytes.Contains(res.Body, []byte(`"City":"Austin"`)) {
		t.Errorf("the filter with spaces did not answer Austin:\n%s", res.Body)
	}
	res = do(t, http.MethodPost, tg.root+"$batch", []byte(`{"requests":[{"id":"1","method":"GET","url":"Customers?$select=CustomerId&$top=2&$orderby=CustomerId desc"}]}`),
		"Content-Type", "application/json")
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"value":[{"CustomerId":10000},{"CustomerId":9999}]`)) {
		t.Errorf("the JSON part did not answer the last customers: %d %s", res.Status, res.Body)
	}
	body, ct = multipartBatch("GET Customers?$top=2&$orderby=CustomerId desc\r\n\r\n")
	res = do(t, http.MethodPost, tg.root+"$batch", body, "Content-Type", ct)
	if res.Status != 400 || !bytes.Contains(res.Body, []byte("no HTTP version")) {
		t.Errorf("a line with spaces and no version: %d %s", res.Status, res.Body)
	}
}
