package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/odatagw/odatagw/admin"
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveAdmin starts the admin API and page on their own listener, kept
// apart from the OData listener so that it can stay on a private address.
func (g *Gateway) serveAdmin() (*http.Server, error) {
	if g.settings.AdminToken == "" {
		return nil, errors.New("the admin listener needs an admin token (ODATAGW_ADMIN_TOKEN)")
	}
	ln, err := net.Listen("tcp", g.settings.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w (another gateway on this machine? give this one --admin-listen HOST:PORT, or off)", err)
	}
	hs := &http.Server{
		Handler:           admin.Handler(admin.Config{Token: g.settings.AdminToken, Manager: g, Logger: g.settings.Logger}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	g.addrMu.Lock()
	g.adminAddr = ln.Addr().String()
	g.addrMu.Unlock()
	g.settings.Logger.Info("admin page and API", "admin_url", "http://"+ln.Addr().String()+"/")
	go hs.Serve(ln)
	return hs, nil
}

// AdminAddr is the admin listener's address, once serving.
func (g *Gateway) AdminAddr() string {
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	return g.adminAddr
}
