package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// Authenticator tells whether token is the agent name's.
type Authenticator func(ctx context.Context, name, token string) (bool, error)

// HubConfig configures the gateway's side.
type HubConfig struct {
	Authenticate Authenticator
	Logger       *slog.Logger
	// ClientIP is who called, as the gateway decides it (trusted proxies).
	ClientIP func(*http.Request) string
	// Throttle delays the answer to a failed authentication; nil: none.
	Throttle interface {
		Failed(client string) time.Duration
		Succeeded(client string)
	}
	// Changed is told when an agent of a name connects or goes.
	Changed func(name string)
	// Recheck is how often a connected agent's token is checked again, so
	// that removing or rotating it cuts the tunnel (default 5 s).
	Recheck time.Duration
}

// Hub accepts agents' tunnels and dials through them.
type Hub struct {
	cfg   HubConfig
	mu    sync.Mutex
	pools map[string][]*session
	next  atomic.Uint64 // spreads ties between sessions
}

// session is one connected agent.
type session struct {
	name, remote, version string
	connected             time.Time
	token                 string
	ys                    *yamux.Session
	ws                    *websocket.Conn
	streams               atomic.Int64
	bytesIn, bytesOut     atomic.Int64
	rtt                   atomic.Int64 // nanoseconds
	lastSeen              atomic.Int64 // unix nanoseconds
}

// NewHub makes the gateway's side.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 5 * time.Second
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string { h, _, _ := net.SplitHostPort(r.RemoteAddr); return h }
	}
	return &Hub{cfg: cfg, pools: map[string][]*session{}}
}

var agentName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// ValidName checks an agent's name.
func ValidName(name string) error {
	if !agentName.MatchString(name) {
		return fmt.Errorf("%q cannot name an agent: letters, digits, - and _, starting with a letter, at most 63", name)
	}
	return nil
}

// ServeHTTP takes an agent's connection: it authenticates it, upgrades to
// a WebSocket and holds the tunnel until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	client := h.cfg.ClientIP(r)
	name := r.Header.Get(HeaderName)
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ValidName(name) != nil || token == "" {
		http.Error(w, "an agent names itself in "+HeaderName+" and sends its token as Authorization: Bearer", http.StatusUnauthorized)
		return
	}
	ok, err := h.cfg.Authenticate(r.Context(), name, token)
	if err != nil {
		h.cfg.Logger.Error("agent authentication failed", "agent", name, "client", client, "error", err)
		http.Error(w, "the gateway cannot check agents right now", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		h.cfg.Logger.Warn("agent refused: unknown name or wrong token", "agent", name, "client", client)
		if h.cfg.Throttle != nil {
			if d := h.cfg.Throttle.Failed(client); d > 0 {
				time.Sleep(d)
			}
		}
		http.Error(w, "unknown agent or wrong token", http.StatusUnauthorized)
		return
	}
	if h.cfg.Throttle != nil {
		h.cfg.Throttle.Succeeded(client)
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Protocol}})
	if err != nil {
		h.cfg.Logger.Warn("agent upgrade failed", "agent", name, "client", client, "error", err)
		return
	}
	if ws.Subprotocol() != Protocol {
		ws.Close(websocket.StatusPolicyViolation, "this gateway speaks "+Protocol)
		return
	}
	ws.SetReadLimit(maxMessage)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	ys, err := yamux.Client(nc, yamuxConfig())
	if err != nil {
		nc.Close()
		return
	}
	s := &session{name: name, remote: client, version: r.Header.Get(HeaderVersion), connected: time.Now(), token: token, ys: ys, ws: ws}
	s.lastSeen.Store(time.Now().UnixNano())
	h.add(s)
	h.cfg.Logger.Info("agent connected", "agent", name, "client", client, "version", s.version)
	defer func() {
		h.remove(s)
		ys.Close()
		h.cfg.Logger.Info("agent disconnected", "agent", name, "client", client, "streams_open", s.streams.Load())
	}()
	// the agent opens no stream: one it tries is refused
	go func() {
		for {
			st, err := ys.AcceptStream()
			if err != nil {
				return
			}
			st.Close()
		}
	}()
	tick := time.NewTicker(h.cfg.Recheck)
	defer tick.Stop()
	for {
		select {
		case <-ys.CloseChan():
			return
		case <-tick.C:
			if d, err := ys.Ping(); err == nil {
				s.rtt.Store(int64(d))
				s.lastSeen.Store(time.Now().UnixNano())
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			ok, err := h.cfg.Authenticate(rctx, name, token)
			rcancel()
			if err == nil && !ok {
				h.cfg.Logger.Warn("agent cut: its registration was removed or its token rotated", "agent", name, "client", client)
				return
			}
		}
	}
}

func (h *Hub) add(s *session) {
	h.mu.Lock()
	h.pools[s.name] = append(h.pools[s.name], s)
	h.mu.Unlock()
	if h.cfg.Changed != nil {
		h.cfg.Changed(s.name)
	}
}

func (h *Hub) remove(s *session) {
	h.mu.Lock()
	pool := h.pools[s.name]
	for i, p := range pool {
		if p == s {
			pool = append(pool[:i:i], pool[i+1:]...)
			break
		}
	}
	if len(pool) == 0 {
		delete(h.pools, s.name)
	} else {
		h.pools[s.name] = pool
	}
	h.mu.Unlock()
	if h.cfg.Changed != nil {
		h.cfg.Changed(s.name)
	}
}

// Connected reports whether an agent of the name is connected.
func (h *Hub) Connected(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pools[name]) > 0
}

// Disconnect cuts every tunnel of the name at once (its registration was
// removed or its token rotated on this gateway).
func (h *Hub) Disconnect(name string) {
	h.mu.Lock()
	pool := append([]*session(nil), h.pools[name]...)
	h.mu.Unlock()
	for _, s := range pool {
		s.ys.Close()
	}
}

// pick is the pool's session with the fewest open streams, ties spread.
func (h *Hub) pick(name string, skip map[*session]bool) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	pool := h.pools[name]
	var best *session
	n := len(pool)
	start := int(h.next.Add(1))
	for i := range pool {
		s := pool[(start+i)%n]
		if skip[s] || s.ys.IsClosed() {
			continue
		}
		if best == nil || s.streams.Load() < best.streams.Load() {
			best = s
		}
	}
	return best
}

// Dial connects to addr through an agent of the name: the net.Conn a
// database driver dials with.
func (h *Hub) Dial(ctx context.Context, name, addr string) (net.Conn, error) {
	if err := validAddr(addr); err != nil {
		return nil, err
	}
	tried := map[*session]bool{}
	for {
		s := h.pick(name, tried)
		if s == nil {
			if len(tried) > 0 {
				return nil, fmt.Errorf("every tunnel of the agent %s failed to open a stream: %w", name, &NoAgentError{Agent: name})
			}
			return nil, &NoAgentError{Agent: name}
		}
		tried[s] = true
		c, err := s.open(ctx, addr)
		var refused *RefusedError
		if err == nil || errors.As(err, &refused) || ctx.Err() != nil {
			return c, err
		}
		// that tunnel is going: the next one of the pool may serve
	}
}

func (s *session) open(ctx context.Context, addr string) (net.Conn, error) {
	if s.streams.Add(1) > MaxStreams {
		s.streams.Add(-1)
		return nil, &RefusedError{Agent: s.name, Addr: addr, Reason: fmt.Sprintf("its tunnel carries %d connections already", MaxStreams)}
	}
	st, err := s.ys.OpenStream()
	if err != nil {
		s.streams.Add(-1)
		return nil, err
	}
	deadline := time.Now().Add(openTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	st.SetDeadline(deadline)
	if _, err := st.Write([]byte(addr + "\n")); err != nil {
		st.Close()
		s.streams.Add(-1)
		return nil, err
	}
	r := bufio.NewReaderSize(st, 512)
	line, err := readLine(r)
	if err != nil {
		st.Close()
		s.streams.Add(-1)
		return nil, fmt.Errorf("the agent %s did not answer for %s: %w", s.name, addr, err)
	}
	if msg, isErr := strings.CutPrefix(line, "ERR "); isErr || line != "OK" {
		st.Close()
		s.streams.Add(-1)
		return nil, &RefusedError{Agent: s.name, Addr: addr, Reason: msg}
	}
	st.SetDeadline(time.Time{})
	return &hubConn{Conn: &bufferedConn{Conn: st, r: r}, s: s}, nil
}

// hubConn is a stream the gateway's driver holds; closing it frees its
// place in the tunnel.
type hubConn struct {
	net.Conn
	s    *session
	once sync.Once
}

func (c *hubConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.bytesIn.Add(int64(n))
	return n, err
}

func (c *hubConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.s.bytesOut.Add(int64(n))
	return n, err
}

func (c *hubConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.s.streams.Add(-1) })
	return err
}

// AgentStatus is one connected agent, for the admin API and page.
type AgentStatus struct {
	Name        string    `json:"name"`
	Remote      string    `json:"remote"`
	Version     string    `json:"version,omitempty"`
	ConnectedAt time.Time `json:"connected_at"`
	LastSeen    time.Time `json:"last_seen"`
	RTTMillis   float64   `json:"rtt_ms"`
	Streams     int64     `json:"streams"`
	BytesIn     int64     `json:"bytes_in"`
	BytesOut    int64     `json:"bytes_out"`
}

// Status lists the connected agents, by name then connection time.
func (h *Hub) Status() []AgentStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []AgentStatus
	for _, pool := range h.pools {
		for _, s := range pool {
			out = append(out, AgentStatus{Name: s.name, Remote: s.remote, Version: s.version, ConnectedAt: s.connected,
				LastSeen: time.Unix(0, s.lastSeen.Load()), RTTMillis: float64(s.rtt.Load()) / 1e6, Streams: s.streams.Load(),
				BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ConnectedAt.Before(out[j].ConnectedAt)
	})
	return out
}
