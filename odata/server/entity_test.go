package server

import (
	"regexp"
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
	want := regexp.MustCompile(`^parse;dur=1\.[5-9]\d, plan;dur=\d+\.\d\d, db;dur=\d+\.\d\d, a-stage-name-long-enough-to-outgrow-the-buffer-inside-the-request;dur=\d+\.\d\d$`)
	if got := st.header(); !want.MatchString(got) {
		t.Fatalf("header %q does not match %s", got, want)
	}
}
