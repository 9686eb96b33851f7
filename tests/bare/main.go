// Command bare is the floor a cache hit is held against: a bare net/http
// server that sends, to every request, the body and headers one URL
// answered once. scripts/measure-hit.sh runs it beside the gateway and
// loads both from another process, so that each server's CPU per request
// is read apart from the load's.
//
//	go run ./tests/bare -from 'http://127.0.0.1:8080/odata/demo/Customers?$top=26' -listen 127.0.0.1:18200
//
// It fetches only from, and listens only on, loopback addresses.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/odatagw/odatagw/tests/load/loadgen"
)

func main() {
	from := flag.String("from", "", "the URL whose answer is sent (a loopback address)")
	listen := flag.String("listen", "127.0.0.1:0", "where to listen (a loopback address)")
	header := flag.String("H", "", "a header sent when fetching, Name: value (e.g. Accept-Encoding: gzip)")
	flag.Parse()
	if err := loadgen.CheckLoopback(*from); err != nil {
		fail(err)
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || !net.ParseIP(host).IsLoopback() {
		fail(fmt.Errorf("-listen %s is not a loopback address", *listen))
	}
	req, _ := http.NewRequest(http.MethodGet, *from, nil)
	if name, value, ok := strings.Cut(*header, ":"); ok {
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	// the bytes as sent: no transparent decompression
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 30 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		fail(fmt.Errorf("%s answered %d: %v", *from, res.StatusCode, err))
	}
	headers := res.Header.Clone()
	for _, h := range []string{"Date", "Content-Length", "Server-Timing", "X-Cache"} {
		headers.Del(h)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	fmt.Println(ln.Addr().String()) // the address, for the script
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range headers {
			w.Header()[k] = v
		}
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fail(srv.Serve(ln))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bare:", err)
	os.Exit(1)
}
