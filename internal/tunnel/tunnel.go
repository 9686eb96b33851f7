// Package tunnel carries a gateway's database connections through an
// agent inside a private network, which accepts no inbound connection.
// The agent dials out to the gateway, over a WebSocket on the gateway's
// own HTTPS port (it passes the proxies and firewalls that let HTTPS
// out), and the two multiplex streams over it (yamux). For each database
// connection the gateway opens a stream and names the address; the agent
// connects there only if its allow-list holds it, and copies bytes both
// ways. Above the driver nothing changes: the stream carries the
// database's own protocol, TLS included.
//
// The Hub is the gateway's side, the Agent the private network's.
package tunnel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
)

// Path is where agents connect on the gateway's public port.
const Path = "/.odatagw/agent"

// Protocol is the WebSocket subprotocol; a peer that speaks another
// version is refused at the upgrade.
const Protocol = "odatagw-tunnel-1"

// Headers the agent identifies itself with.
const (
	HeaderName    = "X-Odatagw-Agent"
	HeaderVersion = "X-Odatagw-Agent-Version"
)

// Bounds of one tunnel.
const (
	// MaxStreams is how many database connections one tunnel carries at
	// once; a gateway's pools are far smaller.
	MaxStreams = 256
	// maxLine bounds a stream's opening line (the address, or the answer).
	maxLine = 1024
	// maxMessage bounds one WebSocket message: a yamux frame's header or
	// body, at most the stream window.
	maxMessage = 1 << 20
	// openTimeout bounds a stream's opening: the agent's dial included.
	openTimeout = 15 * time.Second
	// dialTimeout bounds the agent's connection to the database.
	dialTimeout = 10 * time.Second
)

// yamuxConfig is both sides' session: keepalives find a stalled peer, and
// every write and stream opening is bounded in time.
func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = MaxStreams
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 10 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	c.StreamOpenTimeout = openTimeout
	c.StreamCloseTimeout = 30 * time.Second
	c.MaxStreamWindowSize = 256 << 10
	c.LogOutput = io.Discard
	return c
}

// NoAgentError is a connection asked of an agent that is not connected.
// Its message is what a Salesforce user reads in the 503.
type NoAgentError struct{ Agent string }

func (e *NoAgentError) Error() string {
	return fmt.Sprintf("the agent %s that reaches this source's database is not connected to the gateway; it reconnects by itself, or its operator restarts it", e.Agent)
}

// UnavailableMessage is the client's message for a 503 caused by it.
func (e *NoAgentError) UnavailableMessage() string {
	return fmt.Sprintf("the database behind this service is reached through the agent %s, which is not connected right now; try again shortly", e.Agent)
}

// RefusedError is an address the agent would not connect to, or could
// not reach.
type RefusedError struct {
	Agent, Addr, Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the agent %s did not connect to %s: %s", e.Agent, e.Addr, e.Reason)
}

// validAddr checks an address as host:port.
func validAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" || len(addr) > 255 || strings.ContainsAny(addr, " \r\n\t") {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

// readLine reads one line of at most maxLine bytes.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", errors.New("the line is too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// bufferedConn is a stream whose first bytes were read through a buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
