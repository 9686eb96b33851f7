package tunnel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// AgentConfig configures the private network's side.
type AgentConfig struct {
	Gateway string // the gateway's URL, https://odata.example.com
	Name    string
	Token   string
	// Allow lists the host:port addresses the agent connects to; every
	// other one is refused and logged.
	Allow []string
	// AllowPlainHTTP lets an http:// gateway URL through (tests, loopback).
	AllowPlainHTTP bool
	TLS            *tls.Config // client certificates, extra roots; nil: the system's
	Version        string
	Logger         *slog.Logger
	// Dial connects to an allowed address (default: net.Dialer, 10 s).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Agent keeps a tunnel to the gateway open and serves its streams.
type Agent struct {
	cfg       AgentConfig
	allow     map[string]bool
	connected atomic.Bool
	streams   atomic.Int64
	refused   atomic.Int64
	reconnect atomic.Int64
}

// NewAgent checks the configuration.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if err := ValidName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("the agent has no token: odatagw agent add NAME on the gateway makes one")
	}
	u, err := url.Parse(cfg.Gateway)
	switch {
	case err != nil || u.Host == "":
		return nil, fmt.Errorf("--gateway %q is not a URL", cfg.Gateway)
	case u.Scheme == "http" && !cfg.AllowPlainHTTP:
		return nil, fmt.Errorf("--gateway %s is plain http: the token and the database traffic would cross the network readable; use https, or --allow-plain-http on loopback and in tests", cfg.Gateway)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("--gateway %s: the scheme is https", cfg.Gateway)
	}
	if len(cfg.Allow) == 0 {
		return nil, errors.New("the agent allows no address: give --allow host:port for each database it may reach")
	}
	a := &Agent{cfg: cfg, allow: map[string]bool{}}
	for _, addr := range cfg.Allow {
		if err := validAddr(addr); err != nil {
			return nil, fmt.Errorf("--allow %w", err)
		}
		a.allow[strings.ToLower(addr)] = true
	}
	if a.cfg.Logger == nil {
		a.cfg.Logger = slog.Default()
	}
	if a.cfg.Dial == nil {
		d := &net.Dialer{Timeout: dialTimeout}
		a.cfg.Dial = d.DialContext
	}
	return a, nil
}

// Connected reports whether the tunnel is up: the agent's health.
func (a *Agent) Connected() bool { return a.connected.Load() }

// Streams is how many connections the agent carries now.
func (a *Agent) Streams() int64 { return a.streams.Load() }

// Refused counts the addresses refused since the start.
func (a *Agent) Refused() int64 { return a.refused.Load() }

// ErrUnauthorized is the gateway refusing the agent's name or token.
var ErrUnauthorized = errors.New("the gateway refused the agent: unknown name or wrong token (odatagw agent rotate NAME makes a new one)")

// Run keeps the tunnel up until ctx ends, reconnecting with backoff
// (1 s doubling to 30 s, with jitter; a refused token waits a minute).
func (a *Agent) Run(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := a.serve(ctx)
		a.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 30*time.Second {
			backoff = time.Second // it held: start over
		}
		wait := backoff + rand.N(backoff/2+1)
		if errors.Is(err, ErrUnauthorized) {
			wait = time.Minute
		}
		a.reconnect.Add(1)
		a.cfg.Logger.Warn("tunnel down; reconnecting", "gateway", a.cfg.Gateway, "error", err, "retry_in", wait.Round(time.Millisecond).String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	return nil
}

// serve dials the gateway once and serves the tunnel until it ends.
func (a *Agent) serve(ctx context.Context) error {
	u := strings.TrimRight(a.cfg.Gateway, "/") + Path
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: a.cfg.TLS, ForceAttemptHTTP2: false}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+a.cfg.Token)
	h.Set(HeaderName, a.cfg.Name)
	h.Set(HeaderVersion, a.cfg.Version)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ws, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: h, Subprotocols: []string{Protocol}})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return ErrUnauthorized
		}
		return err
	}
	ws.SetReadLimit(maxMessage)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	nc := websocket.NetConn(sctx, ws, websocket.MessageBinary)
	ys, err := yamux.Server(nc, yamuxConfig())
	if err != nil {
		nc.Close()
		return err
	}
	defer ys.Close()
	a.connected.Store(true)
	a.cfg.Logger.Info("tunnel up", "gateway", a.cfg.Gateway, "agent", a.cfg.Name, "allow", strings.Join(a.cfg.Allow, ","))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := ys.AcceptStream()
		if err != nil {
			if errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, io.EOF) {
				return errors.New("the gateway closed the tunnel")
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.handle(sctx, st)
		}()
	}
}

// handle serves one stream: reads the address, connects if allowed, and
// copies both ways until either side ends.
func (a *Agent) handle(ctx context.Context, st net.Conn) {
	defer st.Close()
	if a.streams.Add(1) > MaxStreams {
		a.streams.Add(-1)
		io.WriteString(st, "ERR the agent carries too many connections\n")
		return
	}
	defer a.streams.Add(-1)
	st.SetDeadline(time.Now().Add(openTimeout))
	r := bufio.NewReaderSize(st, 512)
	addr, err := readLine(r)
	if err != nil {
		return
	}
	if err := validAddr(addr); err != nil {
		io.WriteString(st, "ERR "+err.Error()+"\n")
		return
	}
	if !a.allow[strings.ToLower(addr)] {
		a.refused.Add(1)
		a.cfg.Logger.Warn("refused an address outside the allow-list", "addr", addr)
		io.WriteString(st, "ERR "+addr+" is not in the agent's allow-list (--allow)\n")
		return
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	db, err := a.cfg.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		a.cfg.Logger.Warn("could not reach an allowed address", "addr", addr, "error", err)
		io.WriteString(st, "ERR "+strings.ReplaceAll(err.Error(), "\n", " ")+"\n")
		return
	}
	defer db.Close()
	if _, err := io.WriteString(st, "OK\n"); err != nil {
		return
	}
	st.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() { io.Copy(db, r); closeWrite(db); done <- struct{}{} }()
	go func() { io.Copy(st, db); closeWrite(st); done <- struct{}{} }()
	<-done
	// one side ended: the other gets a moment to drain, then both close
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
