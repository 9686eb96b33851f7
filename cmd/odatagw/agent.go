package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/odatagw/odatagw/internal/tunnel"
)

type agentCmd struct {
	Run    agentRunCmd    `cmd:"" help:"Run an agent inside a private network: it dials out to the gateway over HTTPS and carries the gateway's database connections to the addresses it allows, and to nothing else."`
	Add    agentAddCmd    `cmd:"" help:"Register an agent with a running gateway; its token is printed once."`
	List   agentListCmd   `cmd:"" help:"List the registered agents, their connected tunnels and the sources that use them."`
	Rotate agentRotateCmd `cmd:"" help:"Give an agent a new token (printed once); the old one stops working and its tunnels are cut."`
	Remove agentRemoveCmd `cmd:"" help:"Unregister an agent; its tunnels are cut within seconds."`
}

type agentRunCmd struct {
	Gateway        string   `env:"ODATAGW_AGENT_GATEWAY" required:"" placeholder:"URL" help:"The gateway's public URL, e.g. https://odata.example.com (the agent connects to its ordinary HTTPS port; HTTPS_PROXY is honoured)."`
	Name           string   `env:"ODATAGW_AGENT_NAME" required:"" placeholder:"NAME" help:"The agent's registered name (odatagw agent add NAME); sources name it with via."`
	TokenFile      string   `env:"ODATAGW_AGENT_TOKEN_FILE" placeholder:"FILE" help:"File holding the agent's token (default: ODATAGW_AGENT_TOKEN)."`
	Allow          []string `env:"ODATAGW_AGENT_ALLOW" placeholder:"HOST:PORT" sep:"," help:"An address the agent may connect to, e.g. db.internal:5432; repeatable. Every other address is refused and logged."`
	CAFile         string   `env:"ODATAGW_AGENT_CA_FILE" type:"existingfile" placeholder:"FILE" help:"PEM roots to trust for the gateway's certificate, beside the system's."`
	TLSCert        string   `env:"ODATAGW_AGENT_TLS_CERT" name:"tls-cert" type:"existingfile" placeholder:"FILE" help:"Client certificate for gateways that require one (mutual TLS)."`
	TLSKey         string   `env:"ODATAGW_AGENT_TLS_KEY" name:"tls-key" type:"existingfile" placeholder:"FILE" help:"The client certificate's key."`
	HealthListen   string   `env:"ODATAGW_AGENT_HEALTH_LISTEN" default:"127.0.0.1:8091" placeholder:"ADDR" help:"Where /readyz answers 200 while the tunnel is up (odatagw probe http://ADDR/readyz) and /healthz while the agent runs; off turns it off."`
	AllowPlainHTTP bool     `env:"ODATAGW_AGENT_ALLOW_PLAIN_HTTP" help:"Accept an http:// gateway URL (tests, loopback): the token and the database traffic then cross the network unencrypted."`
	LogLevel       string   `env:"ODATAGW_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
}

func (c *agentRunCmd) run(stderr io.Writer) error {
	token := os.Getenv("ODATAGW_AGENT_TOKEN")
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return err
		}
		token = strings.TrimSpace(string(b))
	}
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := tunnel.AgentConfig{Gateway: c.Gateway, Name: c.Name, Token: token, Allow: c.Allow, AllowPlainHTTP: c.AllowPlainHTTP,
		Version: versionLine(), Logger: log}
	if c.CAFile != "" || c.TLSCert != "" {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return err
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--ca-file %s holds no PEM certificate", c.CAFile)
			}
			cfg.TLS.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return fmt.Errorf("--tls-cert: %w", err)
			}
			cfg.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	a, err := tunnel.NewAgent(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.HealthListen != "off" {
		ln, err := net.Listen("tcp", c.HealthListen)
		if err != nil {
			return fmt.Errorf("--health-listen: %w", err)
		}
		mux := http.NewServeMux()
		// /healthz: the process runs; /readyz: and its tunnel is up
		health := func(ready bool) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				status := "connected"
				if !a.Connected() {
					status = "not connected"
					if ready {
						w.WriteHeader(http.StatusServiceUnavailable)
					}
				}
				fmt.Fprintf(w, `{"status":%q,"streams":%d,"refused":%d}`+"\n", status, a.Streams(), a.Refused())
			}
		}
		mux.HandleFunc("GET /healthz", health(false))
		mux.HandleFunc("GET /readyz", health(true))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		log.Info("agent health", "listen", ln.Addr().String())
	}
	log.Info("agent starting", "gateway", c.Gateway, "name", c.Name, "allow", strings.Join(c.Allow, ","))
	return a.Run(ctx)
}

type agentAddCmd struct {
	adminFlags
	Name string `arg:""`
}

type agentListCmd struct {
	adminFlags
	JSON bool `help:"Print JSON."`
}

type agentRotateCmd struct {
	adminFlags
	Name string `arg:""`
}

type agentRemoveCmd struct {
	adminFlags
	Name string `arg:""`
}

func (c *agentCmd) run(command string, stdout, stderr io.Writer) error {
	if command == "agent run" {
		return c.Run.run(stderr)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	switch command {
	case "agent add <name>":
		cl, err := c.Add.client()
		if err != nil {
			return err
		}
		a, err := cl.AddAgent(ctx, c.Add.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added agent %s; its token, shown this once:\n%s\n", a.Agent.Name, a.Token)
		fmt.Fprintf(stdout, "run it inside the database's network: odatagw agent run --gateway URL --name %s --token-file FILE --allow HOST:PORT\n", a.Agent.Name)
		return nil
	case "agent rotate <name>":
		cl, err := c.Rotate.client()
		if err != nil {
			return err
		}
		a, err := cl.RotateAgent(ctx, c.Rotate.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new token for agent %s, shown this once (the old one no longer works):\n%s\n", a.Agent.Name, a.Token)
		return nil
	case "agent remove <name>":
		cl, err := c.Remove.client()
		if err != nil {
			return err
		}
		if err := cl.RemoveAgent(ctx, c.Remove.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed agent %s\n", c.Remove.Name)
		return nil
	case "agent list":
		cl, err := c.List.client()
		if err != nil {
			return err
		}
		list, err := cl.Agents(ctx)
		if err != nil {
			return err
		}
		if c.List.JSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTUNNELS\tSTREAMS\tRTT\tFROM\tSOURCES")
		for _, a := range list {
			var streams int64
			var rtt float64
			var from []string
			for _, t := range a.Tunnels {
				streams += t.Streams
				rtt = max(rtt, t.RTTMillis)
				from = append(from, t.Remote)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f ms\t%s\t%s\n", a.Name, len(a.Tunnels), streams, rtt, strings.Join(from, ","), strings.Join(a.Sources, ","))
		}
		return tw.Flush()
	}
	return errors.New("unknown command " + command)
}
