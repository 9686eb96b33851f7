package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/odatagw/odatagw/internal/testdb"
)

// TestAdminPageServices drives the page's services in headless Chromium:
// an admin adds a service over three sources, sees the clash of two of
// them next to the names field, gives one a prefix, sees the service in
// the list and reaches it, then removes it.
func TestAdminPageServices(t *testing.T) {
	exe := chromium(t)
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	for name, dsn := range map[string]string{"erp": db.DSN, "billing": liteMember(t), "archive": liteMember(t)} {
		if r := ag.api(t, "POST", "/api/sources", map[string]any{"name": name, "dsn": dsn, "auth": anon}); r.Status != 201 {
			t.Fatalf("adding %s: %d %s", name, r.Status, r.Body)
		}
	}
	br := openBrowser(t, exe, 1280, 1200, "admin-services-failed.png")
	step, text := br.step, br.text
	id, css := func(s string) chromedp.ID { return chromedp.ID(s) }, func(s string) chromedp.CSS { return chromedp.CSS(s) }
	step("signing in", chromedp.Navigate(ag.admin+"/"), chromedp.WaitVisible(id("token")),
		chromedp.SendKeys(id("token"), ag.token+kb.Enter), chromedp.WaitVisible(id("app-view")))
	step("accepting confirmations", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	br.view("sources")
	step("opening the service form", chromedp.Click(css(`#service-add-part > summary`)), chromedp.WaitVisible(id("s-name")),
		chromedp.WaitVisible(id("s-member-archive")))

	// two SQLite sources both have invoices: the clash is told at the field
	step("a service whose names clash", chromedp.SendKeys(id("s-name"), "all"),
		chromedp.Click(id("s-member-erp")), chromedp.Click(id("s-member-billing")), chromedp.Click(id("s-member-archive")),
		chromedp.Click(id("s-basic")), chromedp.Click(id("s-anonymous")),
		chromedp.Click(css(`#service-add button[type="submit"]`)), chromedp.WaitVisible(id("s-names-error")))
	if msg := text("#s-names-error"); !strings.Contains(msg, "invoices is taken by both archive.invoices and billing.invoices") {
		t.Errorf("the clash next to the names field: %q", msg)
	}
	if r := ag.api(t, "GET", "/api/services", nil); !strings.Contains(string(r.Body), `"services":[]`) {
		t.Errorf("the refused service was kept: %s", r.Body)
	}
	step("a prefix and a relation", chromedp.SendKeys(id("s-prefix-archive"), "old_"),
		chromedp.SendKeys(id("s-relations"), "invoices.order_id = erp.Orders.OrderId"),
		chromedp.Click(css(`#service-add button[type="submit"]`)),
		chromedp.WaitVisible(css(`#services tr[data-service="all"]`)))
	row := text(`#services tr[data-service="all"]`)
	for _, want := range []string{"archive (old_), billing, erp", "/odata/all/"} {
		if !strings.Contains(row, want) {
			t.Errorf("the service's row says %q, not %q", row, want)
		}
	}
	if r := do(t, "GET", ag.odata+"/odata/all/old_invoices?$filter=order_id%20eq%2010248", nil); r.Status != 200 || !strings.Contains(string(r.Body), "INV-1") {
		t.Errorf("the new service: %d %s", r.Status, r.Body)
	}
	if r := ag.api(t, "GET", "/api/services/all", nil); !strings.Contains(string(r.Body), `"invoices.order_id":"erp.Orders.OrderId"`) {
		t.Errorf("the relation was not saved: %s", r.Body)
	}
	br.shot("admin-services.png")
	// the service's own view: where each set comes from, and its requests
	step("the service's view", chromedp.Click(css(`#services tr[data-service="all"] button[aria-label="Details of the service all"]`)),
		chromedp.WaitVisible(id("service-detail")),
		chromedp.Poll[chromedp.Void](`document.getElementById("service-shapes").textContent.includes("old_invoices")`))
	br.checkShown(`#app-view > [data-view]`, `nav.views a`, "#service/all")
	if sets := text("#service-sets"); !strings.Contains(sets, "old_invoices\tarchive\tinvoices") && !strings.Contains(sets, "old_invoicesarchiveinvoices") {
		t.Errorf("the service's sets: %q", sets)
	}
	if rel := text("#service-relations"); !strings.Contains(rel, "invoices.order_id → erp.Orders.OrderId") {
		t.Errorf("the service's relations: %q", rel)
	}
	br.shot("admin-service.png")
	step("back to the sources", chromedp.Click(id("close-service")), chromedp.WaitVisible(css(`#services tr[data-service="all"]`)))
	// the overview tells of the service, whole while its sources serve
	br.view("overview")
	step("the overview names the service", chromedp.Poll[chromedp.Void](`document.getElementById("overview-list").textContent.includes("1 service over several sources: all (archive, billing, erp).")`))
	br.view("sources")
	step("removing the service", chromedp.Click(css(`#services tr[data-service="all"] button.danger`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('#services tr[data-service="all"]') === null`))
	if r := do(t, "GET", ag.odata+"/odata/all/", nil); r.Status != 404 {
		t.Errorf("the removed service still answers: %d", r.Status)
	}
}
