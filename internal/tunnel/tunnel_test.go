package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echo is a TCP server on loopback that answers each line with the same
// line, until the test ends.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

type tokens struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *tokens) check(_ context.Context, name, token string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[name] != "" && k.m[name] == token, nil
}

func (k *tokens) set(name, token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[name] = token
}

type rig struct {
	hub    *Hub
	url    string
	tokens *tokens
	srv    *httptest.Server
}

// newRig is a gateway's hub on loopback, behind an http.Server with the
// gateway's short timeouts, which a tunnel must outlive.
func newRig(t *testing.T) *rig {
	r := &rig{tokens: &tokens{m: map[string]string{"plant-a": "secret-a"}}}
	r.hub = NewHub(HubConfig{Authenticate: r.tokens.check, Logger: quiet(), Recheck: 200 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle(Path, r.hub)
	r.srv = httptest.NewUnstartedServer(mux)
	r.srv.Config.ReadTimeout, r.srv.Config.WriteTimeout = time.Second, time.Second
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	r.url = r.srv.URL
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// agent runs an agent until the test ends and waits for its tunnel.
func (r *rig) agent(t *testing.T, token string, allow ...string) (*Agent, context.CancelFunc) {
	a, err := NewAgent(AgentConfig{Gateway: r.url, Name: "plant-a", Token: token, Allow: allow, AllowPlainHTTP: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, cancel
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// TestTunnelCarriesAllowedAddresses: a connection through the agent
// reaches an allowed address, outlives the server's timeouts, and an
// address outside the allow-list is refused.
func TestTunnelCarriesAllowedAddresses(t *testing.T) {
	r := newRig(t)
	addr := echo(t)
	other := echo(t)
	a, _ := r.agent(t, "secret-a", addr)
	waitFor(t, "the tunnel", func() bool { return r.hub.Connected("plant-a") && a.Connected() })
	c, err := r.hub.Dial(context.Background(), "plant-a", addr)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "hello")
	time.Sleep(1500 * time.Millisecond) // past the server's read and write timeouts
	roundTrip(t, c, "still there")
	c.Close()

	_, err = r.hub.Dial(context.Background(), "plant-a", other)
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "not in the agent's allow-list") {
		t.Errorf("an address outside the allow-list: %v", err)
	}
	if a.Refused() != 1 {
		t.Errorf("the agent counted %d refusals", a.Refused())
	}
	if _, err := r.hub.Dial(context.Background(), "plant-b", addr); !errors.As(err, new(*NoAgentError)) {
		t.Errorf("another agent's name: %v", err)
	}
	waitFor(t, "no stream left", func() bool { return a.Streams() == 0 && r.hub.Status()[0].Streams == 0 })
}

// TestTunnelRefusesTokens: a wrong token never connects; removing the
// registration or rotating the token cuts the tunnel within seconds.
func TestTunnelRefusesTokens(t *testing.T) {
	r := newRig(t)
	addr := echo(t)
	a, stop := r.agent(t, "wrong", addr)
	time.Sleep(300 * time.Millisecond)
	if r.hub.Connected("plant-a") || a.Connected() {
		t.Fatal("a wrong token connected")
	}
	stop()
	r.agent(t, "secret-a", addr)
	waitFor(t, "the tunnel", func() bool { return r.hub.Connected("plant-a") })
	r.tokens.set("plant-a", "rotated")
	waitFor(t, "the rotated token to cut the tunnel", func() bool { return !r.hub.Connected("plant-a") })
}

// TestTunnelPool: two agents of one name share the connections, and when
// one goes, new connections go through the other.
func TestTunnelPool(t *testing.T) {
	r := newRig(t)
	addr := echo(t)
	_, stop1 := r.agent(t, "secret-a", addr)
	r.agent(t, "secret-a", addr)
	waitFor(t, "two tunnels", func() bool { return len(r.hub.Status()) == 2 })
	var conns []net.Conn
	for i := 0; i < 8; i++ {
		c, err := r.hub.Dial(context.Background(), "plant-a", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, s := range r.hub.Status() {
		if s.Streams != 4 {
			t.Errorf("a tunnel carries %d of 8 connections", s.Streams)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	stop1()
	waitFor(t, "one tunnel", func() bool { return len(r.hub.Status()) == 1 })
	for i := 0; i < 4; i++ {
		c, err := r.hub.Dial(context.Background(), "plant-a", addr)
		if err != nil {
			t.Fatalf("through the remaining agent: %v", err)
		}
		roundTrip(t, c, "on")
		c.Close()
	}
}

// TestTunnelUnderLoad: 16 clients through one tunnel for a bounded time;
// afterwards no stream is left open on either side.
func TestTunnelUnderLoad(t *testing.T) {
	r := newRig(t)
	addr := echo(t)
	a, _ := r.agent(t, "secret-a", addr)
	waitFor(t, "the tunnel", func() bool { return r.hub.Connected("plant-a") })
	var wg sync.WaitGroup
	var n atomic.Int64
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200 && time.Now().Before(deadline); j++ {
				c, err := r.hub.Dial(context.Background(), "plant-a", addr)
				if err != nil {
					t.Error(err)
					return
				}
				payload := strings.Repeat("x", 1+j%4096)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintln(c, payload)
				got, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if err != nil || len(got) != len(payload)+1 {
					t.Errorf("echo of %d bytes: %d, %v", len(payload), len(got), err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if n.Load() < 16 {
		t.Fatalf("only %d round trips", n.Load())
	}
	waitFor(t, "every stream closed", func() bool { return a.Streams() == 0 && r.hub.Status()[0].Streams == 0 })
}

// TestTunnelBadPeers: a client that is not an agent, or speaks garbage on
// the upgraded connection, is cut, and the hub serves the next agent.
func TestTunnelBadPeers(t *testing.T) {
	r := newRig(t)
	addr := echo(t)
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no token", http.Header{HeaderName: {"plant-a"}}, 401},
		{"bad name", http.Header{HeaderName: {"../etc"}, "Authorization": {"Bearer x"}}, 401},
		{"not a WebSocket", http.Header{HeaderName: {"plant-a"}, "Authorization": {"Bearer secret-a"}}, 426},
	} {
		req, _ := http.NewRequest("GET", r.url+Path, nil)
		req.Header = c.header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	// an upgraded connection that sends garbage instead of yamux frames
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\n%s: plant-a\r\nAuthorization: Bearer secret-a\r\n\r\n", Path, Protocol, HeaderName)
	br := bufio.NewReader(conn)
	status, _ := br.ReadString('\n')
	if !strings.Contains(status, "101") {
		t.Fatalf("upgrade: %q", status)
	}
	conn.Write([]byte{0x82, 0x85, 1, 2, 3, 4, 'j', 'u', 'n', 'k', '!'}) // a masked binary frame of junk
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, br) // the hub closes it
	conn.Close()
	waitFor(t, "the garbage tunnel gone", func() bool { return !r.hub.Connected("plant-a") })
	a, _ := r.agent(t, "secret-a", addr)
	waitFor(t, "a real agent after it", func() bool { return r.hub.Connected("plant-a") && a.Connected() })
	c, err := r.hub.Dial(context.Background(), "plant-a", addr)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "fine")
	c.Close()
}

// TestAgentConfig: what the agent refuses to start with.
func TestAgentConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  AgentConfig
		want string
	}{
		{AgentConfig{Gateway: "http://gw", Name: "a", Token: "t", Allow: []string{"db:5432"}}, "plain http"},
		{AgentConfig{Gateway: "https://gw", Name: "a", Token: "t"}, "allows no address"},
		{AgentConfig{Gateway: "https://gw", Name: "a", Token: "t", Allow: []string{"db"}}, "is not host:port"},
		{AgentConfig{Gateway: "https://gw", Name: "a b", Token: "t", Allow: []string{"db:1"}}, "cannot name an agent"},
		{AgentConfig{Gateway: "https://gw", Name: "a", Allow: []string{"db:1"}}, "no token"},
		{AgentConfig{Gateway: "ftp://gw", Name: "a", Token: "t", Allow: []string{"db:1"}}, "scheme is https"},
	} {
		if _, err := NewAgent(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}
