package tests

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The suites never touch the state of the user who runs them: TestMain
// points HOME and the XDG directories at a directory of its own before
// anything runs (every gateway binary and command inherits them), drops
// the user's ODATAGW_ settings, and checks at the end that the user's own
// gateway state is as it was. Every binary is started through command,
// which gives each test its own HOME, XDG directories and state store on
// top of that.

// realStateDir is the user's own gateway state, as odatagw finds it.
var realStateDir string

// isolate moves the test process's HOME and XDG directories into a
// temporary directory, keeping the Go toolchain's own locations (so that
// building the binary still uses the user's build and module caches), and
// returns a check that the user's state did not change and a cleanup.
func isolate() (check func() error, cleanup func(), err error) {
	// where the go command keeps what it needs, decided before HOME moves
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go env: %w", err)
	}
	goDirs := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(goDirs) != 4 {
		return nil, nil, fmt.Errorf("go env printed %q", out)
	}
	realStateDir = os.Getenv("XDG_STATE_HOME")
	if realStateDir == "" {
		home, _ := os.UserHomeDir()
		realStateDir = filepath.Join(home, ".local", "state")
	}
	realStateDir = filepath.Join(realStateDir, "odatagw")
	before := listing(realStateDir)

	dir, err := os.MkdirTemp("", "odatagw-test-home-")
	if err != nil {
		return nil, nil, err
	}
	for i, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"} {
		os.Setenv(name, goDirs[i])
	}
	os.Setenv("HOME", dir)
	for _, name := range []string{"XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"} {
		sub := filepath.Join(dir, strings.ToLower(strings.TrimPrefix(name, "XDG_")))
		os.MkdirAll(sub, 0o700)
		os.Setenv(name, sub)
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ODATAGW_") && !testSetting(name) {
			os.Unsetenv(name)
		}
	}
	check = func() error {
		if after := listing(realStateDir); after != before {
			return fmt.Errorf("the user's gateway state in %s changed while the suites ran (a test wrote there, or a gateway of the user's own ran meanwhile):\nbefore:\n%s\nafter:\n%s", realStateDir, before, after)
		}
		return nil
	}
	return check, func() { os.RemoveAll(dir) }, nil
}

// testSetting reports whether an ODATAGW_ variable is the suites' own.
func testSetting(name string) bool {
	switch name {
	case "ODATAGW_FUZZTIME", "ODATAGW_MEMORY_SECONDS", "ODATAGW_SOAK_SECONDS":
		return true
	}
	return strings.HasPrefix(name, "ODATAGW_TEST_")
}

// listing is every file under dir with its size and time, "" when there is
// none: enough to see a change.
func listing(dir string) string {
	var lines []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			lines = append(lines, fmt.Sprintf("%s %d %s", path, info.Size(), info.ModTime()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// command is the one way the suites run the odatagw binary: with a HOME,
// XDG directories and a state store of the test's own, which env (NAME=value)
// may override.
func command(t *testing.T, bin string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), ownDirs(t)...)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// ownDirs are the variables that give one test run of the binary its own
// home, XDG directories and state store.
func ownDirs(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"HOME=" + dir, "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"), "XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"ODATAGW_STATE=" + filepath.Join(dir, "state", "odatagw", "state.db")}
}

// TestFailedStartLeavesNothing: a start that fails (a source that cannot
// connect) leaves no registration, token or state file behind, in a new
// state directory and in one that holds a gateway's state already.
func TestFailedStartLeavesNothing(t *testing.T) {
	bin := buildBinary(t)
	env := ownDirs(t)
	state := filepath.Join(strings.TrimPrefix(env[1], "XDG_STATE_HOME="), "odatagw")
	bad := []string{"serve", "--listen", freePort(t), "--admin-listen", freePort(t), "--source", "erp=postgres://nobody:pw@127.0.0.1:1/none"}

	cmd := exec.Command(bin, bad...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a source that cannot connect must stop the start:\n%s", out)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("a failed first start left %s behind:\n%s", state, listing(state))
	}

	// a gateway that ran once (its state and admin token made), then a
	// failed start, then a good one: nothing of the failed one is left
	t.Run("once", func(t *testing.T) {
		runGateway(t, bin, append(env, "ODATAGW_ADMIN_LISTEN="+freePort(t)), "serve", "--listen", freePort(t))
	})
	made := listing(state)
	cmd = exec.Command(bin, bad...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a source that cannot connect must stop the start:\n%s", out)
	}
	t.Run("again", func(t *testing.T) {
		runGateway(t, bin, append(env, "ODATAGW_ADMIN_LISTEN="+freePort(t)), "serve", "--listen", freePort(t))
		if logged := strings.Join(readLog(t), "\n"); strings.Contains(logged, "erp") {
			t.Errorf("the failed start's source is still known to the next start:\n%s", logged)
		}
	})
	if !strings.Contains(made, "admin-token") {
		t.Errorf("the good start made no admin token:\n%s", made)
	}
}

// TestKilledDemoLeavesNoFile: the demo database of a gateway killed with
// SIGKILL (as the tests and the OOM killer end one) is removed by the
// next start, and one that stops normally removes its own.
func TestKilledDemoLeavesNoFile(t *testing.T) {
	bin := buildBinary(t)
	// a demo folder of the test's own: any other gateway starting on this
	// machine meanwhile (other tests run in parallel) would clean the
	// shared one, which is what the test waits for the next start to do
	tmp := []string{"TMPDIR=" + t.TempDir()}
	demoFiles := func(pid int) []string {
		var out []string
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.Contains(target, "odatagw-demo-") {
				out = append(out, strings.TrimSuffix(strings.TrimSuffix(target, ".lock"), ".db"))
			}
		}
		return out
	}
	var killed []string
	t.Run("killed", func(t *testing.T) {
		_, pid := runGateway(t, bin, tmp, "serve", "--listen", freePort(t))
		killed = demoFiles(pid)
		if len(killed) == 0 {
			t.Skip("no /proc to see the gateway's files")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		for range 100 {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	left := func(stem string) []string {
		m, _ := filepath.Glob(stem + "*")
		return m
	}
	for _, f := range killed {
		if len(left(f)) == 0 {
			t.Fatalf("the killed gateway's files went before the next start: %s", f)
		}
	}
	var stopped []string
	t.Run("next", func(t *testing.T) {
		_, pid := runGateway(t, bin, tmp, "serve", "--listen", freePort(t))
		stopped = demoFiles(pid)
		for _, f := range killed {
			if l := left(f); len(l) > 0 {
				t.Errorf("the next start left the killed gateway's demo files: %v", l)
			}
		}
	})
	for _, f := range stopped {
		if l := left(f); len(l) > 0 {
			t.Errorf("a gateway that stopped left its demo files: %v", l)
		}
	}
}

// TestPortInUseSaidFirst: a port already in use is named, with its flag,
// before anything else is done: no demo built, no state made.
func TestPortInUseSaidFirst(t *testing.T) {
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--listen", []string{"serve", "--listen", taken.Addr().String(), "--admin-listen", freePort(t)}},
		{"--admin-listen", []string{"serve", "--listen", freePort(t), "--admin-listen", taken.Addr().String()}},
		{"--metrics-listen", []string{"serve", "--listen", freePort(t), "--admin-listen", "off", "--metrics-listen", taken.Addr().String()}},
	} {
		env := ownDirs(t)
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.flag+" "+taken.Addr().String()) || !strings.Contains(string(out), "address already in use") {
			t.Errorf("%s in use: %v\n%s", c.flag, err, out)
		}
		if strings.Contains(string(out), "demo database created") {
			t.Errorf("%s in use: the demo was built first:\n%s", c.flag, out)
		}
		if state := strings.TrimPrefix(env[1], "XDG_STATE_HOME="); listing(state) != "" {
			t.Errorf("%s in use left state behind:\n%s", c.flag, listing(state))
		}
	}
}
