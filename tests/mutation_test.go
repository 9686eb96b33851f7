package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// mutationSeeds are Salesforce's requests (the catalogue's, and the
// single-record and write forms) that the mutations start from.
func mutationSeeds() []string {
	seeds := []string{"Customers(42)", "Customers(42)/Name", "Customers(42)/Name/$value", "OrderLines(OrderId=10248,ProductId=144)",
		"Customers/$count?$filter=Country eq 'USA'", "$metadata", "Customers?$search=\"Acme Corp\" OR Lyon&$top=25",
		"Orders?$filter=OrderDate ge 2024-01-31T00:00:00Z and Total gt 10.5&$orderby=OrderDate desc&$select=OrderId,Total"}
	for _, sc := range catalogue {
		seeds = append(seeds, sc.url)
	}
	return seeds
}

// mutate changes a URL as a broken client, a proxy or a typo might: a
// character removed, doubled or inserted, a piece repeated or cut off.
func mutate(r *rand.Rand, u string) string {
	const inserts = "()'/,=$&?%;:@!*+.-_~0123456789aZ"
	for n := 1 + r.IntN(3); n > 0 && len(u) > 0; n-- {
		i := r.IntN(len(u))
		switch r.IntN(5) {
		case 0:
			u = u[:i] + u[i+1:]
		case 1:
			u = u[:i] + u[i:i+1] + u[i:]
		case 2:
			u = u[:i] + string(inserts[r.IntN(len(inserts))]) + u[i:]
		case 3:
			j := i + r.IntN(len(u)-i)
			u = u[:j] + u[i:j] + u[j:]
		case 4:
			u = u[:i]
		}
	}
	return u
}

// requestTarget escapes what a client must escape in a URL, and nothing
// else: the mutations' own '%' and parentheses stay as they are.
func requestTarget(root, readable string) string {
	var b strings.Builder
	for _, c := range []byte(readable) {
		if c <= ' ' || c == '"' || c == '#' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return root + b.String()
}

// rawGet sends one GET with the request target exactly as given (Go's
// client would refuse or re-escape some of them) and reads the answer.
func rawGet(t *testing.T, hostport, target string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nOData-MaxVersion: 4.01\r\nConnection: close\r\n\r\n", target, hostport)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// TestMutatedSalesforceURLs sends thousands of broken variants of
// Salesforce's requests. None may answer 500; every error must be an
// OData error body; 501 is for valid OData the gateway does not run, so
// each 501 message is counted and logged for review.
func TestMutatedSalesforceURLs(t *testing.T) {
	tg := demoTarget
	u, _ := url.Parse(tg.root)
	r := rand.New(rand.NewPCG(20261130, 14))
	seeds := mutationSeeds()
	count := 20000
	if testing.Short() {
		count = 2000
	}
	deadline := time.Now().Add(2 * time.Minute)
	statuses := map[int]int{}
	notImplemented := map[string]int{}
	for i := 0; i < count && time.Now().Before(deadline); i++ {
		readable := mutate(r, seeds[r.IntN(len(seeds))])
		target := requestTarget(u.Path, readable)
		res, body := rawGet(t, u.Host, target)
		statuses[res.StatusCode]++
		if res.StatusCode >= 500 && res.StatusCode != 501 && res.StatusCode != 503 {
			t.Errorf("%s: %d %s", target, res.StatusCode, body)
			continue
		}
		if res.StatusCode < 400 {
			continue
		}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s: %d without an OData error body: %q", target, res.StatusCode, body)
			continue
		}
		if res.StatusCode == 501 {
			feature, _, _ := strings.Cut(e.Error.Message, " is valid OData")
			notImplemented[feature]++
			if notImplemented[feature] <= 2 {
				t.Logf("501 for %s: %s", target, e.Error.Message)
			}
		}
	}
	var features []string
	for f, n := range notImplemented {
		features = append(features, fmt.Sprintf("%5d %s", n, f))
	}
	sort.Strings(features)
	t.Logf("statuses: %v; 501 by feature:\n%s", statuses, strings.Join(features, "\n"))
}
