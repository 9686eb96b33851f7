package server

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestServerTiming: the header lists each stage once, in order, with its
// duration in milliseconds, the way browsers' developer tools read it.
func TestServerTiming(t *testing.T) {
	var st serverTiming
	if got := st.header(); got != "" {
		t.Fatalf("no stage yet: header %q, want empty", got)
	}
	st.start = time.Now().Add(-1500 * time.Microsecond)
	for _, stage := range []string{"parse", "plan", "db", "a-stage-name-long-enough-to-outgrow-the-buffer-inside-the-request"} {
		st.mark(stage)
	}
	want := regexp.MustCompile(`^parse;dur=(\d+\.\d\d), plan;dur=\d+\.\d\d, db;dur=\d+\.\d\d, a-stage-name-long-enough-to-outgrow-the-buffer-inside-the-request;dur=\d+\.\d\d$`)
	got := st.header()
	m := want.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("header %q does not match %s", got, want)
	}
	// the first stage began 1.5 ms before it was marked, and took at least
	// that: how much longer depends on the machine, and is not asserted
	if parse, _ := strconv.ParseFloat(m[1], 64); parse < 1.5 {
		t.Errorf("parse took %.2f ms, at least 1.5 ms were set", parse)
	}
}
