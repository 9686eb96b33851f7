package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testdb"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryDir  string // removed when the suites end (TestMain)
)

// buildBinary builds cmd/odatagw once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		if binaryDir, binaryErr = os.MkdirTemp("", "odatagw-test-bin-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "odatagw")
		cmd := exec.Command("go", "build", "-tags", "nomsgpack", "-buildvcs=auto", "-o", binaryPath, "./cmd/odatagw")
		cmd.Dir = testdb.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// runCLI runs one odatagw command to its end and returns what it printed
// and its exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	cmd := command(t, buildBinary(t), nil, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runGateway starts the binary and waits until it logs its service root;
// it returns the root and the process id.
func runGateway(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	// each gateway keeps its state in the test's own directory, and has no
	// admin listener unless the test asks for one (the default port would
	// be shared between tests)
	cmd.Env = append(os.Environ(), ownDirs(t)...)
	cmd.Env = append(cmd.Env, "ODATAGW_ADMIN_LISTEN=off", "ODATAGW_ANONYMOUS=true")
	cmd.Env = append(cmd.Env, env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	file := logFile(t)
	ready := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			file.Write([]byte(line + "\n"))
			if i := strings.Index(line, "service_root="); i >= 0 {
				select {
				case ready <- strings.Fields(line[i+len("service_root="):])[0]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
		}
		cancel()
	})
	select {
	case root := <-ready:
		return root, cmd.Process.Pid
	case <-exited:
		t.Fatalf("the gateway exited:\n%s", logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway did not start:\n%s", logs.String())
	}
	return "", 0
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	t.Run("help", func(t *testing.T) {
		out, err := command(t, bin, nil, "serve", "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, flag := range []string{"--listen", "--source", "--config", "ODATAGW_LISTEN", "ODATAGW_SOURCE", "ODATAGW_CONFIG", "--public-url", "--page-size", "--statement-timeout"} {
			if !strings.Contains(string(out), flag) {
				t.Errorf("serve --help does not mention %s", flag)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		// --version and the version command say the same; neither says
		// "(devel)", and the log at start names it
		flag, err1 := command(t, bin, nil, "--version").CombinedOutput()
		cmd, err2 := command(t, bin, nil, "version").CombinedOutput()
		if err1 != nil || err2 != nil || string(flag) != string(cmd) || !strings.HasPrefix(string(cmd), "odatagw ") || strings.Contains(string(cmd), "(devel)") {
			t.Fatalf("--version: %v %q; version: %v %q", err1, flag, err2, cmd)
		}
		// built from a git checkout, it names the commit (once)
		if _, err := os.Stat(filepath.Join(testdb.Root(), ".git")); err == nil {
			if _, gitErr := exec.LookPath("git"); gitErr == nil && (!strings.Contains(string(cmd), "(commit ") || strings.Count(string(cmd), "v0.0.0-") > 0) {
				t.Errorf("a build from a checkout: %q, want the commit named once", cmd)
			}
		}
		runGateway(t, bin, nil, "serve", "--listen", freePort(t))
		if logged := strings.Join(readLog(t), "\n"); !strings.Contains(logged, "starting "+strings.TrimSpace(string(cmd))) {
			t.Errorf("the log at start does not name the version %q:\n%s", cmd, logged)
		}
	})
	t.Run("demo", func(t *testing.T) {
		addr := freePort(t)
		root, _ := runGateway(t, bin, nil, "serve", "--listen", addr)
		if root != "http://"+addr+"/odata/demo/" {
			t.Fatalf("service root %q", root)
		}
		status, body := fetch(t, root+"Customers/$count")
		if status != 200 || body != "10000" {
			t.Fatalf("Customers/$count: %d %s", status, body)
		}
		status, body = fetch(t, root+"Orders/$count")
		if status != 200 || body != "50000" {
			t.Fatalf("Orders/$count: %d %s", status, body)
		}
	})
	t.Run("postgres by flag", func(t *testing.T) {
		needPostgres(t)
		addr := freePort(t)
		root, _ := runGateway(t, bin, nil, "serve", "--listen", addr, "--source", "erp="+pgDB.DSN)
		if status, body := fetch(t, root+"events/$count"); status != 200 || body != "200000" {
			t.Fatalf("events/$count: %d %s", status, body)
		}
	})
	t.Run("postgres by environment and config file", func(t *testing.T) {
		needPostgres(t)
		cfg := filepath.Join(t.TempDir(), "odatagw.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`
page_size: 50
sources:
  erp:
    dsn: %s
    include: ["Customers", "customer_summary"]
    keys: {customer_summary: [customer_id]}
    names: {customer_summary: CustomerSummary}
    columns: {Customers: {Email: EmailAddress}}
    auth: {anonymous: true}
`, pgDB.DSN)), 0o600)
		addr := freePort(t)
		// no arguments at all: serve is the default command
		root, _ := runGateway(t, bin, []string{"ODATAGW_LISTEN=" + addr, "ODATAGW_CONFIG=" + cfg})
		if root != "http://"+addr+"/odata/erp/" {
			t.Fatalf("service root %q", root)
		}
		status, body := fetch(t, root)
		if status != 200 || !strings.Contains(body, `"CustomerSummary"`) || strings.Contains(body, `"Orders"`) {
			t.Fatalf("service document: %d %s", status, body)
		}
		status, body = fetch(t, root+"Customers?$select=EmailAddress")
		if status != 200 || strings.Count(body, `"EmailAddress"`) != 50 || !strings.Contains(body, "@odata.nextLink") {
			t.Fatalf("renamed column and page size: %d %.300s", status, body)
		}
	})
	t.Run("bad source fails at start", func(t *testing.T) {
		out, err := command(t, bin, nil, "serve", "--listen", freePort(t), "--source", "erp=postgres://nobody:secretpw@127.0.0.1:1/none").CombinedOutput()
		if err == nil {
			t.Fatal("a source that cannot connect must stop the start")
		}
		if strings.Contains(string(out), "secretpw") {
			t.Errorf("the password appears in the output: %s", out)
		}
	})
}
