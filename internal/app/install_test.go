package app

import (
	"context"
	"testing"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

// TestInstallNeverGoesBack: a registration opened before a newer one was
// installed (the reconcile loop racing the admin API) is refused and
// closed; the newer one keeps serving.
func TestInstallNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	g, err := Open(ctx, Settings{Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	open := func() control.Opened {
		src, err := demo.Open(ctx, sources.Options{Name: "erp"})
		if err != nil {
			t.Fatal(err)
		}
		guard, err := auth.NewGuard("erp", config.Auth{Anonymous: true}, g.authShared)
		if err != nil {
			t.Fatal(err)
		}
		return control.Opened{Src: src, Guard: guard}
	}
	newer, older := open(), open()
	if _, ok := g.plane.Install("erp", newer, registry.Source{Name: "erp", Version: 5}); !ok {
		t.Fatal("version 5 was not installed")
	}
	if _, ok := g.plane.Install("erp", older, registry.Source{Name: "erp", Version: 4}); ok {
		t.Fatal("version 4 replaced version 5")
	}
	if src, _ := g.Server.Source("erp"); src != newer.Src {
		t.Fatal("the source serving is not version 5's")
	}
	if older.Src.Ping(ctx) == nil {
		t.Fatal("the refused source was left open")
	}
	if st, err := g.plane.Get(ctx, "erp"); err != nil || st.ServingVersion != 5 {
		t.Fatalf("status: %+v %v", st, err)
	}
}
