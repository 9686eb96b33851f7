// Command delayproxy forwards TCP connections with a fixed delay in each
// direction, for measuring what a network's round trip costs where the
// kernel has no netem (tc qdisc netem): every chunk read is written on
// after the delay, in order, so the stream keeps its throughput and gains
// the latency.
//
//	go run ./tests/delayproxy -listen 10.250.7.1:15432 -to 127.0.0.1:5432 -delay 10ms
//
// It accepts only loopback and private (RFC 1918) addresses, the test's
// own namespaces, and stops after -for.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "", "address to listen on")
	to := flag.String("to", "", "address to forward to")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay, added in each direction (the round trip gains twice it)")
	limit := flag.Duration("for", 30*time.Minute, "stop after this long")
	flag.Parse()
	for _, a := range []string{*listen, *to} {
		if err := local(a); err != nil {
			fmt.Fprintln(os.Stderr, "delayproxy:", err)
			os.Exit(2)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	time.AfterFunc(*limit, func() { os.Exit(0) })
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", *to)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { pipe(up, c, *delay); done <- struct{}{} }()
			go func() { pipe(c, up, *delay); done <- struct{}{} }()
			<-done
		}()
	}
}

// local refuses an address that is not loopback or private.
func local(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !(ip.IsLoopback() || ip.IsPrivate()) {
		return fmt.Errorf("%s is not a loopback or private address", addr)
	}
	return nil
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk held until its delay has passed.
func pipe(dst io.WriteCloser, src io.Reader, delay time.Duration) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}
