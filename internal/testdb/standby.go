package testdb

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server made for one test from the test server
// (PostgresURL) with pg_basebackup, in a temporary directory, on a free
// loopback port: a streaming standby of the server it was copied from,
// or, made by Copy, a primary of its own. It is stopped and removed when
// the test ends, and leaves nothing on the server it was copied from (no
// replication slot).
type Cluster struct {
	Port int
	dir  string // the cluster's directory: data/, the socket and the log
	bin  string
	user *user.User // who runs it, when the tests run as root
	t    testing.TB
}

// StandbyBinEnv names the variable that says where PostgreSQL's programs
// are (pg_basebackup, pg_ctl), when they are not where Debian puts them
// for the server's version.
const StandbyBinEnv = "ODATAGW_TEST_PG_BIN"

// NewStandby makes a streaming standby of the server at source (a
// postgres:// URL on a loopback address), serving reads once it has
// caught up. Without what it needs (PostgreSQL's programs, replication
// connections allowed from 127.0.0.1) it skips, or fails in CI.
func NewStandby(t testing.TB, source string) *Cluster {
	return newCluster(t, source, true)
}

// Copy makes a primary of its own from the server at source: a copy
// that a test may stop, promote standbys of, and throw away.
func Copy(t testing.TB, source string) *Cluster {
	return newCluster(t, source, false)
}

func newCluster(t testing.TB, source string, standby bool) *Cluster {
	t.Helper()
	u, err := url.Parse(source)
	if err != nil {
		t.Fatalf("the PostgreSQL URL: %v", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		unavailable(t, "a standby is made of a server on this machine; %s is not a loopback address", u.Hostname())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, source)
	if err != nil {
		t.Fatalf("connecting to %s: %v", PostgresEnv, err)
	}
	var version int
	var limits string
	// a standby must allow at least what its primary allows
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, string_agg(name || ' = ' || setting, E'\n')
		FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')`).Scan(&version, &limits)
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("reading the server's version: %v", err)
	}
	bin := os.Getenv(StandbyBinEnv)
	if bin == "" {
		bin = fmt.Sprintf("/usr/lib/postgresql/%d/bin", version/10000)
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_basebackup")); err != nil {
		unavailable(t, "pg_basebackup is not in %s: set %s to the directory of PostgreSQL %d's programs", bin, StandbyBinEnv, version/10000)
	}
	c := &Cluster{bin: bin, t: t}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root
		if c.user, err = user.Lookup("postgres"); err != nil {
			unavailable(t, "the tests run as root and there is no postgres user to run a standby as")
		}
	}
	if c.dir, err = os.MkdirTemp("", "odatagw-cluster-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.remove)
	c.own(c.dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()

	port := u.Port()
	if port == "" {
		port = "5432"
	}
	args := []string{"-h", u.Hostname(), "-p", port, "-D", c.data(), "-X", "stream", "-c", "fast", "--no-sync"}
	if name := u.User.Username(); name != "" {
		args = append(args, "-U", name)
	}
	if standby {
		args = append(args, "-R")
	}
	if out, err := c.run(2*time.Minute, "pg_basebackup", args...); err != nil {
		if strings.Contains(out, "replication connection") || strings.Contains(out, "pg_hba.conf") {
			unavailable(t, "the server does not accept replication connections from this machine: add `host replication all 127.0.0.1/32 trust` (or your method) to pg_hba.conf and reload: %s", out)
		}
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nhot_standby = on\nhot_standby_feedback = on\n"+
		"shared_buffers = 16MB\nfsync = off\nlogging_collector = off\n%s\n", c.Port, c.dir, limits)
	c.write("postgresql.conf", conf)
	c.write("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n")
	c.write("pg_ident.conf", "")
	c.Start()
	return c
}

// unavailable skips a test that cannot make a cluster here, or fails it in
// CI, where it must run.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("standby suite: "+format, args...)
	}
	t.Skipf("standby suite skipped: "+format, args...)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the postgres:// URL of a database on the cluster, as the test
// server's user.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s", c.Port, database)
}

// write puts a file in the data directory, as the cluster's user.
func (c *Cluster) write(name, text string) {
	p := filepath.Join(c.data(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.own(p)
}

// Configure adds settings to the cluster's configuration and reloads it
// (recovery_min_apply_delay, say).
func (c *Cluster) Configure(settings string) {
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintln(f, settings)
	f.Close()
	if out, err := c.run(30*time.Second, "pg_ctl", "-D", c.data(), "reload"); err != nil {
		c.t.Fatalf("pg_ctl reload: %v\n%s", err, out)
	}
}

// Start starts the cluster and waits until it takes connections.
func (c *Cluster) Start() {
	if out, err := c.run(2*time.Minute, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "90", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("starting the cluster: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the cluster at once, as a crash or a pulled cable would.
func (c *Cluster) Stop() {
	if out, err := c.run(time.Minute, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		c.t.Fatalf("stopping the cluster: %v\n%s", err, out)
	}
}

// Promote makes a standby a primary.
func (c *Cluster) Promote() {
	if out, err := c.run(time.Minute, "pg_ctl", "-D", c.data(), "-w", "promote"); err != nil {
		c.t.Fatalf("promoting the standby: %v\n%s", err, out)
	}
}

// remove stops the cluster if it runs and deletes its directory.
func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.run(time.Minute, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	}
	os.RemoveAll(c.dir)
}

// own gives a path to the cluster's user.
func (c *Cluster) own(path string) {
	if c.user == nil {
		return
	}
	uid, _ := strconv.Atoi(c.user.Uid)
	gid, _ := strconv.Atoi(c.user.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		c.t.Fatal(err)
	}
}

// run runs one of PostgreSQL's programs as the cluster's user, bounded in
// time, and returns what it wrote.
func (c *Cluster) run(limit time.Duration, program string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	name, full := filepath.Join(c.bin, program), args
	if c.user != nil {
		name, full = "runuser", append([]string{"-u", c.user.Username, "--", filepath.Join(c.bin, program)}, args...)
	}
	cmd := exec.CommandContext(ctx, name, full...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// PID is the cluster's postmaster's process ID, for tests that measure
// what the cluster spends.
func (c *Cluster) PID() int {
	raw, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	return pid
}
