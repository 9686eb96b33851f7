package tests

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/odatagw/odatagw/internal/testdb"
)

// The suites write every gateway's log to test-output/logs/ and record
// every secret they hand a gateway (passwords, tokens, DSN passwords,
// admin tokens) in test-output/secrets.txt; scripts/test.sh then scans the
// logs for the secrets and fails if it finds one.

var secretsMu sync.Mutex

func outputDir() string { return filepath.Join(testdb.Root(), "test-output") }

// resetSecretScan empties the logs and the secrets of a previous run.
func resetSecretScan() {
	os.RemoveAll(filepath.Join(outputDir(), "logs"))
	os.Remove(filepath.Join(outputDir(), "secrets.txt"))
	os.MkdirAll(filepath.Join(outputDir(), "logs"), 0o755)
}

// recordSecret notes secrets that must never appear in a log.
func recordSecret(t *testing.T, secrets ...string) {
	t.Helper()
	secretsMu.Lock()
	defer secretsMu.Unlock()
	f, err := os.OpenFile(filepath.Join(outputDir(), "secrets.txt"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range secrets {
		if s = strings.TrimSpace(s); len(s) >= 6 {
			f.WriteString(s + "\n")
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// logFile is where a test's gateway logs go, for the scan.
func logFile(t *testing.T) io.Writer {
	t.Helper()
	path := filepath.Join(outputDir(), "logs", unsafeName.ReplaceAllString(t.Name(), "_")+".log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f // an *os.File takes concurrent writes; each log record is one
}
