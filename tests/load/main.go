// Command load measures a running gateway on this machine: requests per
// second and latency percentiles of one request repeated by concurrent
// clients, or the memory of the gateway while a client follows nextLinks
// through a whole entity set.
//
// It only sends to loopback addresses, and every run is bounded in count
// and time.
//
//	go run ./tests/load -url 'http://127.0.0.1:8080/odata/demo/Customers?$select=CustomerId,Name&$count=true&$top=26' -c 16 -d 10s
//	go run ./tests/load -url 'http://127.0.0.1:8080/odata/erp/events({rand:1-200000})' -c 16 -d 10s
//	go run ./tests/load -follow -pid 1234 -url 'http://127.0.0.1:8080/odata/erp/events?$select=id,kind'
//	go run ./tests/load -X POST -body '{"id":{seq},"kind":"x","amount":1,"at":"2024-01-01T00:00:00Z"}' -url 'http://127.0.0.1:8080/odata/erp/events'
//
// {rand:A-B} in the URL or body becomes a random integer in [A,B]; {seq}
// in the body a number unique to the run.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/odatagw/odatagw/tests/load/loadgen"
)

func main() {
	target := flag.String("url", "", "request URL; {rand:A-B} is replaced by a random integer in [A,B] per request")
	conc := flag.Int("c", 8, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "how long to run (at most 2m)")
	n := flag.Int("n", 1_000_000, "stop after this many requests (at most 5,000,000)")
	follow := flag.Bool("follow", false, "follow @odata.nextLink from -url to the end, once, and report pages and memory")
	pid := flag.Int("pid", 0, "with -follow: the gateway's process id, to sample its resident memory")
	header := flag.String("H", "", "extra header, Name: value")
	method := flag.String("X", http.MethodGet, "request method")
	body := flag.String("body", "", "request body (JSON); {seq} and {rand:A-B} are replaced per request")
	flag.Parse()
	if err := loadgen.CheckLoopback(*target); err != nil {
		fmt.Fprintln(os.Stderr, "load: -url:", err)
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 2 * time.Minute}
	if *follow {
		if err := loadgen.Follow(client, *target, *header, *pid, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	loadgen.Repeat(client, loadgen.Request{Method: *method, URL: *target, Header: *header, Body: *body}, *conc, *dur, *n).Print(os.Stdout)
}
