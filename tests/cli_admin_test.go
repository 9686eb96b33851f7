package tests

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/testdb"
)

// TestSourceCommands drives a running binary's admin API with the
// `odatagw source` commands, signing in through the token file the
// gateway wrote, and checks `odatagw check` without a gateway.
func TestSourceCommands(t *testing.T) {
	needPostgres(t)
	bin := buildBinary(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	cfgDB := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	stateDir := t.TempDir()
	adminAddr := freePort(t)
	root, _ := runGateway(t, bin, []string{
		"ODATAGW_STATE=" + filepath.Join(stateDir, "state.db"),
		"ODATAGW_ADMIN_LISTEN=" + adminAddr,
	}, "serve", "--listen", freePort(t), "--source", "cfg="+cfgDB.DSN)
	base := strings.TrimSuffix(root, "/odata/cfg/")

	// the token file is private to its owner
	tokenFile := filepath.Join(stateDir, "admin-token")
	info, err := os.Stat(tokenFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", info, err)
	}
	cli := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := command(t, bin, []string{"ODATAGW_ADMIN_URL=http://" + adminAddr, "ODATAGW_ADMIN_TOKEN_FILE=" + tokenFile, "ODATAGW_ADMIN_TOKEN="}, args...)
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("odatagw %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	steps := []struct {
		args   []string
		ok     bool
		want   []string
		absent []string
	}{
		{[]string{"source", "list"}, true, []string{"cfg", "serving", "config"}, nil},
		{[]string{"source", "test", db.DSN}, true, []string{"Customers__x", "External ID", "left out of the service", "no_key_log"}, nil},
		{[]string{"source", "add", "erp", db.DSN, "--read-only", "--anonymous"}, true, []string{"added erp", "/odata/erp/"}, nil},
		{[]string{"source", "list"}, true, []string{"erp", "api", "cfg"}, nil},
		{[]string{"source", "add", "erp", db.DSN}, false, []string{"exists"}, nil},
		{[]string{"source", "update", "erp", "--read-only=false", "--page-size", "250"}, true, []string{"updated erp"}, nil},
		{[]string{"source", "update", "erp", "--dsn", "postgres://postgres@127.0.0.1:1/x"}, false, []string{"dsn:", "connect"}, nil},
		{[]string{"source", "reload", "erp"}, true, []string{"added_sets"}, nil},
		{[]string{"source", "remove", "cfg"}, false, []string{"configuration"}, nil},
		{[]string{"source", "remove", "erp"}, true, []string{"removed erp"}, nil},
		{[]string{"source", "list"}, true, []string{"cfg"}, []string{"erp "}},
		{[]string{"source", "remove", "erp"}, false, []string{"no source named"}, nil},
	}
	for _, s := range steps {
		out := cli(s.ok, s.args...)
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("odatagw %s: output lacks %q:\n%s", strings.Join(s.args, " "), w, out)
			}
		}
		for _, a := range s.absent {
			if strings.Contains(out, a) {
				t.Errorf("odatagw %s: output has %q:\n%s", strings.Join(s.args, " "), a, out)
			}
		}
		if strings.Join(s.args[:2], " ") == "source add" && s.ok {
			// served at once, with its settings
			if status, _ := fetch(t, base+"/odata/erp/Customers?$top=1"); status != 200 {
				t.Errorf("after add: %d", status)
			}
		}
	}
	// users: a password user and a token user, for a source that takes both
	run := func(stdin string, args ...string) (string, error) {
		cmd := command(t, bin, []string{"ODATAGW_ADMIN_URL=http://" + adminAddr, "ODATAGW_ADMIN_TOKEN_FILE=" + tokenFile, "ODATAGW_ADMIN_TOKEN="}, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	password := "pw-" + randomHex(10)
	recordSecret(t, password)
	if out, err := run(password+"\n", "user", "add", "alice", "--password-stdin"); err != nil || !strings.Contains(out, "added password user alice") {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := run("short\n", "user", "add", "bob", "--password-stdin"); err == nil || !strings.Contains(out, "password: at least") {
		t.Errorf("a short password: %v %s", err, out)
	}
	out, err := run("", "user", "add", "robot", "--token")
	token := strings.TrimSpace(out[strings.LastIndex(out, ":")+1:])
	if err != nil || !strings.HasPrefix(token, "odgw_") {
		t.Fatalf("user add --token: %v %s", err, out)
	}
	recordSecret(t, token)
	if b, err := os.ReadFile(tokenFile); err == nil {
		recordSecret(t, string(b))
	}
	if out, err := run("", "user", "list"); err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "robot") || strings.Contains(out, token) {
		t.Errorf("user list: %v %s", err, out)
	}
	cli(true, "source", "add", "crm", db.DSN, "--basic", "--token-header", "X-Api-Key")
	for _, h := range [][]string{
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))},
		{"X-Api-Key", token},
	} {
		if r := do(t, "GET", base+"/odata/crm/Customers?$top=1", nil, h...); r.Status != 200 {
			t.Errorf("crm with %s: %d", h[0], r.Status)
		}
	}
	if r := do(t, "GET", base+"/odata/crm/Customers?$top=1", nil); r.Status != 401 {
		t.Errorf("crm without credentials: %d", r.Status)
	}
	// a source behind an agent: --via names it, as the API's "via" does;
	// a source is connected before it is saved, so with the agent away
	// the gateway refuses it, naming the agent
	if out, err := run("", "agent", "add", "plant-a"); err != nil {
		t.Fatalf("agent add: %v %s", err, out)
	} else {
		recordSecret(t, strings.TrimSpace(out[strings.LastIndex(out, ":")+1:]))
	}
	if out, err := run("", "source", "add", "plant", db.DSN, "--via", "plant-a", "--anonymous"); err == nil || !strings.Contains(out, "agent plant-a") {
		t.Errorf("source add --via an agent that is not connected: %v %s", err, out)
	}
	if out, err := run("", "user", "remove", "robot"); err != nil || !strings.Contains(out, "removed robot") {
		t.Errorf("user remove: %v %s", err, out)
	}
	if r := do(t, "GET", base+"/odata/crm/Customers?$top=1", nil, "X-Api-Key", token); r.Status != 401 {
		t.Errorf("a removed token user: %d", r.Status)
	}

	// a wrong token is refused
	cmd := command(t, bin, []string{"ODATAGW_ADMIN_URL=http://" + adminAddr, "ODATAGW_ADMIN_TOKEN=wrong"}, "source", "list")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "admin token") {
		t.Errorf("wrong token: %v %s", err, out)
	}

	// check reads the database directly and explains each problem; it
	// exits 1 on errors (and with --strict on warnings), so it can gate a
	// pipeline
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", db.DSN}, 1, "the check found 3 errors and 17 warnings"},
		{[]string{"check", db.DSN, "--json"}, 1, "the check found 3 errors"},
		{[]string{"check", db.DSN, "--include", "Customers"}, 0, "1 entity set, 0 errors, 0 warnings"},
		{[]string{"check", db.DSN, "--include", "Customers", "--strict"}, 0, "0 warnings"},
		{[]string{"check", db.DSN, "--include", "Suppliers"}, 0, "0 errors, 1 warning"},
		{[]string{"check", db.DSN, "--include", "Suppliers", "--strict"}, 1, "the check found 0 errors and 1 warning"},
		{[]string{"check", db.DSN, "--no-such-flag"}, 2, "unknown flag"},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("odatagw %s: exit %d, want %d with %q:\n%s%s", strings.Join(c.args[2:], " "), code, c.code, c.want, stdout, stderr)
		}
	}
	out = cli(false, "check", db.DSN)
	for _, want := range []string{
		"table public.Customers -> entity set Customers, external object Customers__x (writable), key CustomerId",
		"CustomerId   CustomerId   Edm.Int32           Number, External ID",
		"Checkbox",
		"error: no_key_log: left out of the service: no primary key",
		"unbounded text becomes Text(128)",
		"served as order_lines_2024_",
		"entity sets, 3 errors,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if out := cli(false, "check", db.DSN, "--key", "customer_summary=customer_id", "--json"); !strings.Contains(out, `"entity_set": "customer_summary"`) {
		t.Errorf("check --key did not serve the keyed table:\n%.500s", out)
	}
	if out := cli(false, "check", "postgres://postgres:hunter2-secret@127.0.0.1:5432/no_such_database"); strings.Contains(out, "hunter2-secret") || !strings.Contains(out, "no_such_database") {
		t.Errorf("check of a missing database: %s", out)
	}
}
