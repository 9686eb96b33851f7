package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/odatagw/odatagw/internal/testdb"
)

// chromium finds Debian's chromium; CI installs it (.ci/run), elsewhere
// the test skips without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("ODATAGW_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testdb.InCI() {
		t.Fatal("no chromium: the admin page's browser test needs it (apt-get install chromium)")
	}
	t.Skip("no chromium on this machine (set ODATAGW_TEST_CHROMIUM or apt-get install chromium)")
	return ""
}

// screenshotDir is where the browser test keeps its screenshots.
func screenshotDir(t *testing.T) string {
	dir := filepath.Join(testdb.Root(), "test-output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAdminPageInBrowser drives the admin page in headless Chromium the
// way an admin would, with the keyboard: sign in (a wrong token first),
// add a source with a bad DSN and see the error next to the field, fix it
// and see the source's entity sets, report and Salesforce settings; then
// the same page on a phone-sized screen.
func TestAdminPageInBrowser(t *testing.T) {
	exe := chromium(t)
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)

	br := openBrowser(t, exe, 1280, 1000, "admin-page-failed.png")
	do, text, evalString, shot := br.step, br.text, br.eval, br.shot
	id := func(s string) chromedp.ID { return chromedp.ID(s) }
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// sign in: a wrong token shows an error at the field; the right one,
	// typed and submitted with Enter, opens the page
	do("opening the page", chromedp.Navigate(ag.admin+"/"), chromedp.WaitVisible(id("token")))
	if focused := evalString(`document.activeElement.id`); focused != "token" {
		t.Errorf("the token field should have the focus, %q has it", focused)
	}
	do("wrong token", chromedp.SendKeys(id("token"), "not-the-token"+kb.Enter), chromedp.WaitVisible(id("token-error")))
	if msg := text("#token-error"); !strings.Contains(msg, "not accepted") {
		t.Errorf("wrong token message: %q", msg)
	}
	do("right token", chromedp.Evaluate[chromedp.Void](`document.getElementById("token").value = ""`), chromedp.SendKeys(id("token"), ag.token+kb.Enter),
		chromedp.WaitVisible(id("app-view")), chromedp.WaitVisible(css(`#overview-list li`)))
	br.view("sources")
	do("the sources list", chromedp.WaitVisible(css(`#sources tbody tr[data-source="demo"]`)))

	// OAuth 2.0: its settings open under the checkbox, focus on the first
	br.view("add")
	do("opening the OAuth settings", chromedp.Click(id("f-oauth")), chromedp.WaitVisible(id("f-oauth-fields")))
	if focused := evalString(`document.activeElement.id`); focused != "f-introspection-url" {
		t.Errorf("the introspection URL should have the focus, %q has it", focused)
	}
	shot("admin-page-oauth.png")
	do("closing the OAuth settings", chromedp.Click(id("f-oauth")), chromedp.WaitNotVisible(id("f-oauth-fields")))
	// the token header likewise, with a label of its own
	if shown := evalString(`String(!document.getElementById("f-token-fields").hidden)`); shown != "false" {
		t.Errorf("the token header shows before its checkbox is ticked")
	}
	do("opening the token header", chromedp.Click(id("f-token")), chromedp.WaitVisible(id("f-token-header")))
	if label := evalString(`document.querySelector('label[for="f-token-header"]').textContent + "/" + document.activeElement.id`); label != "Header that carries the token/f-token-header" {
		t.Errorf("the token header's label and focus: %q", label)
	}
	do("closing the token header", chromedp.Click(id("f-token")), chromedp.WaitNotVisible(id("f-token-header")))

	// a DSN that cannot connect: the error is shown at the DSN field,
	// which gets the focus
	do("adding with a bad DSN",
		chromedp.SendKeys(id("f-name"), "erp"),
		chromedp.Click(id("f-anonymous")), // the check below reads it without credentials
		chromedp.SendKeys(id("f-dsn"), "postgres://postgres@127.0.0.1:1/nowhere"+kb.Enter),
		chromedp.WaitVisible(id("f-dsn-error")))
	if msg := text("#f-dsn-error"); !strings.Contains(msg, "connect") {
		t.Errorf("DSN field error: %q", msg)
	}
	if state := evalString(`document.getElementById("f-dsn").getAttribute("aria-invalid") + "/" + document.activeElement.id`); state != "true/f-dsn" {
		t.Errorf("the DSN field should be marked invalid and focused: %s", state)
	}
	shot("admin-page-field-error.png")

	// fixed: the source is added, and its details shown at its own address
	do("adding the source",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-dsn").value = ""`),
		chromedp.SendKeys(id("f-dsn"), db.DSN+kb.Enter),
		chromedp.WaitVisible(id("detail")),
		chromedp.Poll[chromedp.Void](`location.hash === "#source/erp"`))
	if connect := text("#connect"); !strings.Contains(connect, ag.odata+"/odata/erp/") || !strings.Contains(connect, "OData 4.01") ||
		!strings.Contains(connect, "Use Free-Text Search Expressions") || !strings.Contains(connect, "Compress Requests") {
		t.Errorf("Connect Salesforce panel: %q", connect)
	}
	// the gateway serves at 127.0.0.1, which Salesforce cannot reach: said, with what to set
	if far := text("#connect-unreachable"); !strings.Contains(far, "Salesforce cannot reach") || !strings.Contains(far, "--public-url") {
		t.Errorf("the loopback service URL is not called out: %q", far)
	}
	if status := text("#detail-status"); !strings.Contains(status, "the database answers") {
		t.Errorf("status: %q", status)
	}
	br.tab("sets")
	do("the report", chromedp.WaitVisible(css("#report h4")))
	report := text("#report")
	for _, want := range []string{"Customers__x", "CustomerId__c", "Checkbox", "no_key_log", "Search reads", "Indexes Salesforce's traffic needs", "gin_trgm_ops"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if r := do2(t, "GET", ag.odata+"/odata/erp/Customers?$top=1"); r.Status != 200 {
		t.Errorf("the added source is not served: %d", r.Status)
	}
	shot("admin-page-source.png")
	br.view("sources")
	if row := text(`#sources tbody tr[data-source="erp"]`); !strings.Contains(row, "serving") || !strings.Contains(row, "/odata/erp/") {
		t.Errorf("listed as %q", row)
	}
	do("back to the source", chromedp.NavigateBack(), chromedp.WaitVisible(css(`#detail > [data-tab="sets"]`)))

	// change tracking: the SQL to read, then installed from the page
	br.tab("settings")
	do("showing the tracking SQL", chromedp.Click(id("track-sql")), chromedp.WaitVisible(id("track-out")))
	if sql := text("#track-out"); !strings.Contains(sql, "CREATE TRIGGER odatagw_log") {
		t.Errorf("the tracking SQL: %.200s", sql)
	}
	do("installing tracking", chromedp.Click(id("track-install")),
		chromedp.Poll[chromedp.Void](`document.getElementById("tracking-status").textContent.startsWith("Changes are tracked on")`))
	if status := text("#tracking-status"); !strings.Contains(status, "Customers") {
		t.Errorf("tracking status: %q", status)
	}
	if r := do2(t, "GET", ag.odata+"/odata/erp/Customers?$top=0"); r.Status != 200 {
		t.Errorf("after tracking: %d", r.Status)
	}
	shot("admin-page-tracking.png")

	// a phone-sized screen: nothing wider than the screen but the tables'
	// own scroll boxes
	do("narrow screen", chromedp.EmulateViewport(375, 800), chromedp.Sleep(200*time.Millisecond))
	if w := evalString(`document.documentElement.scrollWidth + "/" + document.documentElement.clientWidth`); func() bool {
		var sw, cw int
		fmt.Sscanf(w, "%d/%d", &sw, &cw)
		return sw > cw
	}() {
		t.Errorf("the page scrolls sideways on a narrow screen (scroll/client width %s)", w)
	}
	shot("admin-page-narrow.png")
}

// browser is headless Chromium for one test, with the steps the admin
// page tests take: actions bounded in time (a screenshot when one fails),
// reading text, evaluating JavaScript, screenshots kept in test-output/.
type browser struct {
	t       *testing.T
	ctx     context.Context
	failure string // the screenshot taken when a step fails
}

func openBrowser(t *testing.T, exe string, width, height int, failure string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(width, height), chromedp.UserDataDir(t.TempDir()),
		// Chromium's own temporary directories go in the test's, not /tmp
		chromedp.Env("TMPDIR="+t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	// start the browser on the test's context: the per-step contexts
	// must not own it
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return &browser{t: t, ctx: ctx, failure: failure}
}

func (b *browser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	c, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		b.shot(b.failure)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// view opens one of the page's views with its link in the navigation, and
// checks that it is the only one shown, that its link is marked as the
// current one and that the keyboard focus moved to its heading.
func (b *browser) view(name string) {
	b.t.Helper()
	b.step("opening the view "+name, chromedp.Click(chromedp.CSS(`nav.views a[data-view="`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-view > [data-view="`+name+`"]`)))
	b.checkShown(`#app-view > [data-view]`, `nav.views a`, "#"+name)
}

// tab opens one of the shown source's tabs, as view opens a view.
func (b *browser) tab(name string) {
	b.t.Helper()
	b.step("opening the tab "+name, chromedp.Click(chromedp.CSS(`#detail nav.tabs a[data-tab="`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail > [data-tab="`+name+`"]`)))
	b.checkShown(`#detail > [data-tab]`, `#detail nav.tabs a`, "")
}

func (b *browser) checkShown(parts, links, address string) {
	b.t.Helper()
	got := b.eval(`(() => {
	  const shown = Array.from(document.querySelectorAll(` + jsString(parts) + `)).filter(e => !e.hidden);
	  const current = Array.from(document.querySelectorAll(` + jsString(links) + `)).filter(a => a.getAttribute("aria-current") === "page");
	  const focus = document.activeElement;
	  return shown.length + " shown, " + current.length + " current, focus " + (shown.length === 1 && shown[0].contains(focus) && /^H[23]$/.test(focus.tagName) ? "on the heading" : "on " + focus.tagName + "#" + focus.id);
	})()`)
	if got != "1 shown, 1 current, focus on the heading" {
		b.t.Errorf("after opening %s: %s", parts, got)
	}
	if address != "" {
		if h := b.eval(`location.hash`); h != address {
			b.t.Errorf("the address is %q, want %q", h, address)
		}
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return s
}

func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot: %v", err)
		return
	}
	path := filepath.Join(screenshotDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// do2 is do without a body, for use where do is shadowed.
func do2(t *testing.T, method, url string) response { return do(t, method, url, nil) }

// TestAdminPageSignInLink: a browser that opens the link of `odatagw
// admin login` lands on the page signed in, stays signed in when the page
// is opened again (as a new tab or a bookmark would), and signing out
// ends it there too.
func TestAdminPageSignInLink(t *testing.T) {
	exe := chromium(t)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	cmd := command(t, buildBinary(t), []string{"ODATAGW_ADMIN_URL=" + ag.admin, "ODATAGW_ADMIN_TOKEN=" + ag.token}, "admin", "login")
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	link := lines[len(lines)-1]
	if err != nil || !strings.Contains(link, "/login?code=") {
		t.Fatalf("odatagw admin login: %v\n%s", err, out)
	}
	recordSecret(t, strings.SplitN(link, "code=", 2)[1])

	br := openBrowser(t, exe, 1280, 900, "admin-page-link-failed.png")
	id := func(s string) chromedp.ID { return chromedp.ID(s) }
	br.step("opening the sign-in link", chromedp.Navigate(link), chromedp.WaitVisible(id("app-view")))
	br.shot("admin-page-signed-in-by-link.png")
	br.step("opening the page again", chromedp.Navigate(ag.admin+"/"), chromedp.WaitVisible(id("app-view")))
	br.view("sources")
	if list := br.text("#sources"); !strings.Contains(list, "demo") {
		t.Errorf("the sources list after opening the page again: %q", list)
	}
	br.step("signing out", chromedp.Click(id("signout")), chromedp.WaitVisible(id("signin-view")))
	br.step("opening the page after signing out", chromedp.Navigate(ag.admin+"/"), chromedp.WaitVisible(id("token")))
	if !strings.Contains(br.eval(`document.getElementById("app-view").hidden ? "hidden" : "shown"`), "hidden") {
		t.Error("the page opens signed in after signing out")
	}
}
