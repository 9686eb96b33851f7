package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testdb"
)

// netns is a network namespace of the test's own, joined to this one by
// a veth pair: inside, 127.0.0.1 is its own loopback, so a gateway there
// cannot reach the databases, which listen on this namespace's loopback
// only; it reaches this namespace at Host, and this one reaches it at Peer.
type netns struct {
	Name, Host, Peer string
}

// newNetns makes the namespace, or skips (fails in CI) where that is not
// allowed: it needs root and ip(8).
func newNetns(t *testing.T) *netns {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		if testdb.InCI() {
			t.Fatal("the agent suite needs root and ip(8) to put the gateway in a network namespace; CI must run it")
		}
		t.Skip("agent suite skipped: it needs root and ip(8) to put the gateway in a network namespace of its own")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	n := &netns{Name: "odgw" + id, Host: fmt.Sprintf("10.%d.%d.1", 200+int(b[0])%50, b[1]), Peer: fmt.Sprintf("10.%d.%d.2", 200+int(b[0])%50, b[1])}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", n.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	outer, inner := "vo"+id, "vi"+id
	run("link", "add", outer, "type", "veth", "peer", "name", inner)
	t.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
	run("link", "set", inner, "netns", n.Name)
	run("addr", "add", n.Host+"/30", "dev", outer)
	run("link", "set", outer, "up")
	run("netns", "exec", n.Name, "ip", "addr", "add", n.Peer+"/30", "dev", inner)
	run("netns", "exec", n.Name, "ip", "link", "set", inner, "up")
	run("netns", "exec", n.Name, "ip", "link", "set", "lo", "up")
	return n
}

// cannotReach proves that nothing in the namespace reaches addr.
func (n *netns) cannotReach(t *testing.T, addr string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("ip", "netns", "exec", n.Name, "timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port))
	if err := cmd.Run(); err == nil {
		t.Fatalf("the namespace reaches %s: the test would prove nothing", addr)
	}
}

type agentRig struct {
	t                 *testing.T
	ns                *netns
	base, admin, tok  string
	dir               string
	bin               string
	agents            map[string]*exec.Cmd
	agentLogs         map[string]*syncBuffer
	gatewayLog        *syncBuffer
	gatewayDone       chan struct{}
	healthByAgentProc map[string]string
}

// startGatewayIn runs the binary inside the namespace with the config.
func startGatewayIn(t *testing.T, ns *netns, cfg string) *agentRig {
	r := &agentRig{t: t, ns: ns, bin: buildBinary(t), dir: t.TempDir(), tok: "admin-" + randomHex(12),
		agents: map[string]*exec.Cmd{}, agentLogs: map[string]*syncBuffer{}, gatewayLog: &syncBuffer{}, healthByAgentProc: map[string]string{}}
	recordSecret(t, r.tok)
	path := filepath.Join(r.dir, "odatagw.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	port, aport := "18443", "18444"
	r.base, r.admin = "http://"+ns.Peer+":"+port, "http://"+ns.Peer+":"+aport
	cmd := command(t, "ip", []string{"ODATAGW_ADMIN_TOKEN=" + r.tok, "ODATAGW_CACHE_TTL=0"}, "netns", "exec", ns.Name, r.bin, "serve",
		"--listen", ns.Peer+":"+port, "--admin-listen", ns.Peer+":"+aport, "--state", filepath.Join(r.dir, "state.db"), "--config", path)
	cmd.Stdout, cmd.Stderr = r.gatewayLog, io.MultiWriter(r.gatewayLog, logFile(t))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.gatewayDone = make(chan struct{})
	go func() { cmd.Wait(); close(r.gatewayDone) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.gatewayDone:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	eventually(t, 20*time.Second, "the gateway in the namespace answers", func() bool {
		resp, err := http.Get(r.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return r
}

func (r *agentRig) api(method, path string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.admin+path, rd)
	req.Header.Set("Authorization", "Bearer "+r.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// runAgent starts an agent in this namespace (beside the databases).
func (r *agentRig) runAgent(key, name, token string, allow ...string) {
	tf := filepath.Join(r.dir, key+".token")
	os.WriteFile(tf, []byte(token+"\n"), 0o600)
	health := freePort(r.t)
	log := &syncBuffer{}
	cmd := command(r.t, r.bin, nil, "agent", "run", "--gateway", r.base, "--name", name, "--token-file", tf,
		"--allow", strings.Join(allow, ","), "--allow-plain-http", "--health-listen", health, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = log, io.MultiWriter(log, logFile(r.t))
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	r.agents[key], r.agentLogs[key], r.healthByAgentProc[key] = cmd, log, health
}

// tunnels is how many tunnels of the agent the gateway has, and their streams.
func (r *agentRig) tunnels(name string) (n int, streams int) {
	_, out := r.api("GET", "/api/agents", nil)
	list, _ := out["agents"].([]any)
	for _, a := range list {
		m := a.(map[string]any)
		if m["name"] != name {
			continue
		}
		for _, tu := range m["tunnels"].([]any) {
			n++
			streams += int(tu.(map[string]any)["streams"].(float64))
		}
	}
	return n, streams
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAgentCarriesTheMix: a gateway that provably cannot reach the
// databases serves PostgreSQL and MariaDB sources through a pool of two
// agents: the Salesforce mix, an agent killed mid-load, the allow-list, and
// tokens wrong, rotated and removed.
func TestAgentCarriesTheMix(t *testing.T) {
	pg := testdb.NewPostgres(t, testdb.Fixture("relations.sql"))
	my := testdb.NewMySQL(t, testdb.MySQLFixture("relations.sql"))
	ns := newNetns(t)
	ns.cannotReach(t, "127.0.0.1:5432")
	ns.cannotReach(t, "127.0.0.1:3306")
	ns.cannotReach(t, ns.Host+":5432")
	r := startGatewayIn(t, ns, fmt.Sprintf(`sources:
  erp:
    dsn: %q
    via: plant-a
    exclude: [warehouses]
    auth: {anonymous: true}
  shop:
    dsn: %q
    via: plant-a
    exclude: [warehouses]
    auth: {anonymous: true}
`, pg.DSN, my.DSN))

	// no agent yet: 503 naming it, on the source and on the admin readiness
	if st, body := get(r.base + "/odata/erp/customers"); st != 503 || !strings.Contains(body, "agent plant-a") {
		t.Fatalf("before the agent: %d %s", st, body)
	}
	if st, body := get(r.admin + "/readyz"); st != 503 || !strings.Contains(body, "plant-a") {
		t.Errorf("admin readiness before the agent: %d %s", st, body)
	}
	st, out := r.api("POST", "/api/agents", map[string]string{"name": "plant-a"})
	if st != 201 {
		t.Fatalf("adding the agent: %d %v", st, out)
	}
	token := out["token"].(string)
	recordSecret(t, token)
	allow := []string{"127.0.0.1:5432", "127.0.0.1:3306"}
	r.runAgent("a", "plant-a", token, allow...)
	r.runAgent("b", "plant-a", token, allow...)
	eventually(t, 20*time.Second, "both sources serve through the agents", func() bool {
		s1, _ := get(r.base + "/odata/erp/customers?$top=1")
		s2, _ := get(r.base + "/odata/shop/customers?$top=1")
		n, _ := r.tunnels("plant-a")
		return s1 == 200 && s2 == 200 && n == 2
	})
	if st, body := get("http://" + r.healthByAgentProc["a"] + "/readyz"); st != 200 || !strings.Contains(body, `"connected"`) {
		t.Errorf("the agent's health: %d %s", st, body)
	}

	// the Salesforce mix through the tunnel, on both databases
	for _, src := range []string{"erp", "shop"} {
		base := r.base + "/odata/" + src
		send := func(method, path, body string, want int) map[string]any {
			t.Helper()
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s %s %s: %d %s", src, method, path, resp.StatusCode, b)
			}
			var out map[string]any
			json.Unmarshal(b, &out)
			return out
		}
		created := send("POST", "/customers", `{"name":"Acme","customer_number":"C-1","active":true}`, 201)
		id, _ := created["id"].(float64)
		send("POST", "/orders", fmt.Sprintf(`{"id":10,"customer_id":%d,"placed":"2026-12-01","total":2500}`, int(id)), 201)
		send("GET", "/customers?$select=id,name&$count=true&$top=26", "", 200)
		send("GET", fmt.Sprintf("/customers(%d)", int(id)), "", 200)
		send("GET", fmt.Sprintf("/orders?$filter=customer_id%%20eq%%20%d&$count=true&$top=6", int(id)), "", 200)
		send("GET", "/customers?$search=Acme&$select=id,name", "", 200)
		send("PATCH", fmt.Sprintf("/customers(%d)", int(id)), `{"name":"Acme Ltd"}`, 204)
		send("DELETE", "/orders(10)", "", 204)
		if got := send("GET", fmt.Sprintf("/customers(%d)", int(id)), "", 200); got["name"] != "Acme Ltd" {
			t.Errorf("%s: the edit did not land: %v", src, got)
		}
	}

	// 16 clients for a bounded time, and agent a killed in the middle:
	// answers are 2xx or 503, never a 500; every acknowledged write is
	// there, and no other; new requests go through agent b
	var next atomic.Int64
	next.Store(1000)
	var mu sync.Mutex
	acked := map[string][]int64{}
	statuses := map[int]int{}
	deadline := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			src := []string{"erp", "shop"}[i%2]
			for j := 0; j < 400 && time.Now().Before(deadline); j++ {
				var resp *http.Response
				var err error
				id := int64(0)
				if j%4 == 0 {
					id = next.Add(1)
					resp, err = client.Post(r.base+"/odata/"+src+"/products", "application/json",
						strings.NewReader(fmt.Sprintf(`{"id":%d,"sku":"S-%d","title":"item %d"}`, id, id, id)))
				} else {
					resp, err = client.Get(fmt.Sprintf("%s/odata/%s/customers?$select=id,name&$count=true&$top=%d", r.base, src, 1+j%25))
				}
				if err != nil {
					t.Errorf("transport: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if id != 0 && resp.StatusCode == 201 {
					acked[src] = append(acked[src], id)
				}
				mu.Unlock()
			}
		}(i)
	}
	time.Sleep(1500 * time.Millisecond)
	r.agents["a"].Process.Kill()
	wg.Wait()
	for st, n := range statuses {
		if st != 200 && st != 201 && st != 503 {
			t.Errorf("%d answers of status %d during the kill", n, st)
		}
	}
	t.Logf("during the kill: %v", statuses)
	for src, ids := range acked {
		var n int
		base := r.base + "/odata/" + src
		eventually(t, 10*time.Second, "reads through agent b", func() bool {
			st, body := get(base + "/products/$count")
			fmt.Sscan(body, &n)
			return st == 200
		})
		if n < len(ids) {
			t.Errorf("%s: %d products acknowledged, %d in the database", src, len(ids), n)
		}
		for _, id := range ids[:min(len(ids), 20)] {
			if st, _ := get(fmt.Sprintf("%s/products(%d)", base, id)); st != 200 {
				t.Errorf("%s: acknowledged product %d is missing: %d", src, id, st)
			}
		}
	}
	if n, _ := r.tunnels("plant-a"); n != 1 {
		t.Errorf("after the kill, %d tunnels", n)
	}
	// no stream leaked: once the load ends, the gateway's streams are its
	// pools' connections, and the agent carries the same number
	time.Sleep(500 * time.Millisecond)
	_, streams := r.tunnels("plant-a")
	_, body := get("http://" + r.healthByAgentProc["b"] + "/healthz")
	var health struct{ Streams int }
	json.Unmarshal([]byte(body), &health)
	if streams > 2*10+4 || health.Streams != streams {
		t.Errorf("streams after the load: the gateway %d, the agent %d (pools hold at most 10 per source, and the listeners)", streams, health.Streams)
	}

	// an address outside the allow-list: refused, and logged by the agent
	st, out = r.api("POST", "/api/test", map[string]any{"name": "probe", "dsn": strings.Replace(pg.DSN, ":5432/", ":5433/", 1), "via": "plant-a", "auth": map[string]any{"anonymous": true}})
	if st < 400 || !strings.Contains(fmt.Sprint(out), "allow-list") {
		t.Errorf("an address the agent does not allow: %d %v", st, out)
	}
	if !strings.Contains(r.agentLogs["b"].String(), "refused an address outside the allow-list") {
		t.Error("the agent did not log the refused address")
	}

	// a wrong token never connects
	r.runAgent("wrong", "plant-a", "odgw_wrong", allow...)
	time.Sleep(time.Second)
	if n, _ := r.tunnels("plant-a"); n != 1 {
		t.Errorf("with a wrong token: %d tunnels", n)
	}
	// rotating cuts the tunnel within seconds; the old token is refused
	if st, _ := r.api("POST", "/api/agents/plant-a/rotate", nil); st != 200 {
		t.Fatalf("rotate: %d", st)
	}
	eventually(t, 10*time.Second, "the rotated token cuts the tunnel", func() bool { n, _ := r.tunnels("plant-a"); return n == 0 })
	eventually(t, 10*time.Second, "requests answer 503 naming the agent", func() bool {
		st, body := get(r.base + "/odata/erp/customers?$top=7")
		return st == 503 && strings.Contains(body, "plant-a")
	})
	eventually(t, 10*time.Second, "the agent logs that the gateway refused its old token", func() bool {
		return strings.Contains(r.agentLogs["b"].String(), "refused the agent")
	})
	if st, _ := r.api("DELETE", "/api/agents/plant-a", nil); st != 204 {
		t.Errorf("remove: %d", st)
	}
	if st, _ := r.api("GET", "/api/agents", nil); st != 200 {
		t.Errorf("list after remove: %d", st)
	}
	select {
	case <-r.gatewayDone:
		t.Fatalf("the gateway exited:\n%s", r.gatewayLog.String())
	default:
	}
}
