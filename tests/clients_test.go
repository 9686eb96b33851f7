package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/testdb"
)

// odataClientVersion is the @odata/client release the client test runs.
const odataClientVersion = "2.21.10"

// TestODataClientBatch: @odata/client, a Node OData client, sends a batch
// whose request lines carry the URL with raw spaces ($orderby=CustomerId
// desc); the gateway answers the query as sent. npm installs the client
// into a temporary directory (its cache too); without npm and node the
// test is skipped, and fails in CI.
func TestODataClientBatch(t *testing.T) {
	npm, err := exec.LookPath("npm")
	node, nerr := exec.LookPath("node")
	if err != nil || nerr != nil {
		if testdb.InCI() {
			t.Fatal("npm and node are needed for the OData client test; CI must run it")
		}
		t.Skip("npm or node is missing: the @odata/client test needs both")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "npm_config_cache="+filepath.Join(dir, "cache"), "npm_config_update_notifier=false",
		"npm_config_fund=false", "npm_config_audit=false", "npm_config_userconfig="+filepath.Join(dir, "npmrc"))
	install := exec.Command(npm, "install", "--silent", "--no-save", "--prefix", dir, "@odata/client@"+odataClientVersion)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install @odata/client@%s: %v\n%s", odataClientVersion, err, out)
	}
	script := filepath.Join(dir, "batch.js")
	os.WriteFile(script, []byte(`const { OData } = require("@odata/client");
const client = OData.New4({ serviceEndpoint: process.argv[2] });
(async () => {
  const last = client.newOptions().select("CustomerId").top(2).orderby("CustomerId", "desc");
  const austin = client.newOptions().select("City").top(1).filter(client.newFilter().field("City").eq("Austin"));
  const answers = await client.execBatchRequests([
    client.newBatchRequest({ collection: "Customers", params: last }),
    client.newBatchRequest({ collection: "Customers", params: austin }),
  ]);
  for (const a of answers) {
    const body = await a.json();
    console.log(a.status, JSON.stringify(body.value));
  }
})().catch((e) => { console.error(e); process.exit(1); });
`), 0o644)
	var stdout, stderr bytes.Buffer
	run := exec.Command(node, script, demoTarget.root)
	run.Dir, run.Env, run.Stdout, run.Stderr = dir, env, &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("node: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	want := "200 [{\"CustomerId\":10000},{\"CustomerId\":9999}]\n200 [{\"City\":\"Austin\"}]\n"
	if got := stdout.String(); got != want {
		t.Errorf("the client's batch answered\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(stderr.String(), "Error") {
		t.Errorf("node: %s", stderr.String())
	}
}
