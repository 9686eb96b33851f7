package main

import (
	"os"
	"strings"
	"testing"
)

// TestCheckRefuses: each fault the check exists for is found in a
// manifest that has it, and a sound one passes.
func TestCheckRefuses(t *testing.T) {
	sound, err := os.ReadFile("testdata/sound.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := Check(sound); len(errs) != 0 {
		t.Fatalf("a sound manifest is refused: %v", errs)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"unknown field", "  replicas: 2", "  replica: 2", `unknown field "replica"`},
		{"wrong type", "  replicas: 2", "  replicas: two", "cannot unmarshal"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "root filesystem writable"},
		{"capabilities kept", `drop: ["ALL"]`, `drop: ["NET_RAW"]`, "capabilities not all dropped"},
		{"root allowed", "securityContext:\n        runAsNonRoot: true", "securityContext:\n        runAsNonRoot: false", "may run as root"},
		{"no seccomp", "type: RuntimeDefault", "type: Unconfined", "seccomp"},
		{"plain secret", "name: ODATAGW_LOG_LEVEL", "name: ODATAGW_ADMIN_TOKEN", "plain text"},
		{"no readiness", "path: /readyz", "path: /", "readiness"},
		{"a Secret", "kind: ConfigMap", "kind: Secret", "renders a Secret"},
		{"unknown kind", "kind: ConfigMap", "kind: ConfigMapp", "not a kind"},
	} {
		bad := strings.Replace(string(sound), c.from, c.to, 1)
		if bad == string(sound) {
			t.Fatalf("%s: %q is not in the sound manifest", c.name, c.from)
		}
		_, errs := Check([]byte(bad))
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e.Error(), c.want)
		}
		if !found {
			t.Errorf("%s: not found (%v)", c.name, errs)
		}
	}
}
