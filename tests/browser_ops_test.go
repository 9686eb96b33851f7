package tests

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/odatagw/odatagw/internal/testdb"
)

// TestAdminPageOperations drives the operations parts of the admin page
// in headless Chromium, with the keyboard where an admin would use it:
// users (add with a password and with a token shown once, rotate, set a
// role, remove), the traffic charts and table after real traffic, per-set
// settings that change what the gateway serves, the Salesforce metadata,
// and the audit records filtered by source and event. Every control must
// have an accessible name. Screenshots go to test-output/.
func TestAdminPageOperations(t *testing.T) {
	exe := chromium(t)
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", nil)
	for _, src := range []map[string]any{
		{"name": "erp", "dsn": db.DSN, "auth": anon},
		{"name": "locked", "dsn": db.DSN, "auth": map[string]any{"basic": true}},
	} {
		if r := ag.api(t, "POST", "/api/sources", src); r.Status != 201 {
			t.Fatalf("adding %v: %d %s", src["name"], r.Status, r.Body)
		}
	}
	// traffic: reads, a write, a refused credential
	for _, u := range []string{"Customers?$top=5&$count=true", "Customers?$top=5&$count=true", "Orders?$top=3", "Customers(3)", "NoSuchSet"} {
		do2(t, "GET", ag.odata+"/odata/erp/"+encodeQuery(u))
	}
	if r := do(t, "PATCH", ag.odata+"/odata/erp/Customers(3)", []byte(`{"City":"Audited"}`), "Content-Type", "application/json"); r.Status != 204 {
		t.Fatalf("write: %d %s", r.Status, r.Body)
	}
	do(t, "GET", ag.odata+"/odata/locked/Customers", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("mallory:guess")))

	br := openBrowser(t, exe, 1280, 1200, "admin-ops-failed.png")
	step, text, eval, shot := br.step, br.text, br.eval, br.shot
	id, css := func(s string) chromedp.ID { return chromedp.ID(s) }, func(s string) chromedp.CSS { return chromedp.CSS(s) }

	step("signing in", chromedp.Navigate(ag.admin+"/"), chromedp.WaitVisible(id("token")),
		chromedp.SendKeys(id("token"), ag.token+kb.Enter), chromedp.WaitVisible(id("app-view")),
		chromedp.WaitVisible(id("overview")))
	// confirm() answers yes, as the admin would
	step("accepting confirmations", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))

	// the overview says whether everything is well; a source has its own address
	step("the overview", chromedp.Poll[chromedp.Void](`document.getElementById("overview-list").textContent.includes("3 of 3 sources serving")`))
	// one meaning each: errors to act on, refusals by status (the 404 of
	// NoSuchSet, the 401 of the refused credential)
	if o := text("#overview-list"); !strings.Contains(o, "0 errors (5xx, timeouts) and 2 refusals (1 × 401, 1 × 404) in the last hour") || !strings.Contains(o, "Salesforce callouts") {
		t.Errorf("the overview: %q", o)
	}
	shot("admin-ops-overview.png")
	step("a source's address", chromedp.Evaluate[chromedp.Void](`location.hash = "#source/locked"`),
		chromedp.WaitVisible(id("detail")), chromedp.Poll[chromedp.Void](`document.getElementById("detail-title").textContent.includes("locked")`))
	// a view's address survives a reload (the sign-in is this tab's), and
	// an address naming no source falls back to the list
	step("reloading a tab's address", chromedp.Evaluate[chromedp.Void](`location.hash = "#source/erp/insight"`), chromedp.Reload(),
		chromedp.WaitVisible(css(`#detail > [data-tab="insight"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("detail-title").textContent === "erp" && document.title.startsWith("erp")`))
	br.checkShown(`#detail > [data-tab]`, `#detail nav.tabs a`, "")
	step("accepting confirmations again", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	step("an unknown source's address", chromedp.Evaluate[chromedp.Void](`location.hash = "#source/nosuch"`),
		chromedp.Poll[chromedp.Void](`location.hash === "#sources" && !document.querySelector('#app-view > [data-view="sources"]').hidden`),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("nosuch")`))
	br.view("overview")
	step("the overview links to the budget", chromedp.Click(css(`#overview-list a[href="#source/erp/insight"]`)),
		chromedp.WaitVisible(css(`#detail > [data-tab="insight"]`)))

	br.view("users")

	// users: a password user, then a token user whose token is shown once
	step("adding a password user", chromedp.SendKeys(id("u-name"), "sf-integration"), chromedp.SendKeys(id("u-password"), "correct horse battery"+kb.Enter),
		chromedp.WaitVisible(css(`#users tbody tr[data-user="sf-integration"]`)))
	step("adding a token user", chromedp.SendKeys(id("u-name"), "etl"), chromedp.Click(id("u-kind-token")), chromedp.Click(css(`#add-user button[type=submit]`)),
		chromedp.WaitVisible(css(`#users tbody tr[data-user="etl"]`)), chromedp.WaitVisible(id("user-token")))
	first := text("#user-token code")
	if len(first) < 20 {
		t.Fatalf("no token shown: %q", first)
	}
	if r := do(t, "GET", ag.odata+"/odata/locked/Customers?$top=1", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("sf-integration:correct horse battery"))); r.Status != 200 {
		t.Errorf("the user added on the page cannot sign in: %d", r.Status)
	}
	step("rotating the token", chromedp.Click(css(`#users tbody tr[data-user="etl"] button[aria-label^="Make a new API token"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("#user-token code") && document.querySelector("#user-token code").textContent !== `+jsString(first)))
	step("setting a role", chromedp.SendKeys(css(`#users tbody tr[data-user="sf-integration"] input[name=role]`), "sales_reader"),
		chromedp.Click(css(`#users tbody tr[data-user="sf-integration"] button[aria-label^="Set the database role"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Role of sf-integration saved")`))
	if r := ag.api(t, "GET", "/api/users", nil); !strings.Contains(string(r.Body), `"role":"sales_reader"`) {
		t.Errorf("the role was not saved: %s", r.Body)
	}
	shot("admin-ops-users.png")
	step("removing a user", chromedp.Click(css(`#users tbody tr[data-user="etl"] button[aria-label="Remove the user etl"]`)),
		chromedp.WaitNotPresent(css(`#users tbody tr[data-user="etl"]`)))

	// audit: every record, then only erp's writes
	br.view("audit")
	step("reading the audit", chromedp.Click(css(`#audit-filter button[type=submit]`)), chromedp.WaitVisible(css(`#audit tbody tr`)))
	if all := text("#audit tbody"); !strings.Contains(all, "Refused credential") || !strings.Contains(all, "mallory") || !strings.Contains(all, "Customers(3)") {
		t.Errorf("the audit lacks a record: %q", all)
	}
	step("filtering the audit", chromedp.SetValue(id("a-source"), "erp"), chromedp.SetValue(id("a-event"), "write"),
		chromedp.Click(css(`#audit-filter button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`!document.querySelector("#audit tbody").textContent.includes("mallory")`))
	if rows := eval(`String(document.querySelectorAll("#audit tbody tr").length)`); rows != "1" {
		t.Errorf("%s audit rows for erp's writes, want 1", rows)
	}
	shot("admin-ops-audit.png")

	// the source's traffic, charted and tabled
	br.view("sources")
	shot("admin-ops-sources.png")
	step("opening erp", chromedp.Click(css(`button[aria-label="Details of erp"]`)), chromedp.WaitVisible(id("detail")))
	br.tab("insight")
	step("the traffic", chromedp.WaitVisible(css(`#traffic-table tbody tr`)), chromedp.WaitVisible(css(`#charts svg`)))
	table := text("#traffic-table tbody")
	if !strings.Contains(table, "Every set") || !strings.Contains(table, "Customers") || !strings.Contains(table, "Orders") {
		t.Errorf("traffic table: %q", table)
	}
	if n := eval(`String(document.querySelectorAll("#charts svg[role=img][aria-label]").length)`); n != "5" {
		t.Errorf("%s labelled charts, want 5", n)
	}
	if label := eval(`document.querySelector("#charts svg").getAttribute("aria-label")`); !strings.Contains(label, "Requests per second: latest") {
		t.Errorf("chart label: %q", label)
	}
	step("charting one set", chromedp.SetValue(id("traffic-set"), "Customers"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("traffic-set").dispatchEvent(new Event("change"))`))
	shot("admin-ops-traffic.png")

	// per-set settings: Orders read-only, Customers uncached
	br.tab("settings")
	step("editing set settings",
		chromedp.SetValue(css(`#sets tr[data-set="Customers"] input[name=ttl]`), "0s"),
		chromedp.SetValue(css(`#sets tr[data-set="Customers"] select[name=count]`), "exact"),
		chromedp.SendKeys(css(`#sets tr[data-set="Customers"] input[name=search]`), "Name, City"),
		chromedp.Click(css(`#sets tr[data-set="Orders"] input[name=read_only]`)),
		chromedp.Click(css(`#sets-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Saved the entity set settings")`))
	eventually(t, 10*time.Second, "Orders served read-only", func() bool {
		r := do(t, "PATCH", ag.odata+"/odata/erp/Orders(10248)", []byte(`{"Total":1}`), "Content-Type", "application/json")
		return r.Status == 405
	})
	if r := ag.api(t, "GET", "/api/sources/erp", nil); !strings.Contains(string(r.Body), `"read_only_sets":["Orders"]`) || !strings.Contains(string(r.Body), `"Customers":["Name","City"]`) {
		t.Errorf("the settings were not saved: %s", r.Body)
	}
	shot("admin-ops-sets.png")

	// the Salesforce side per set: a name field and an Indirect Lookup;
	// one naming no column is refused, saying so
	step("a lookup of no column", chromedp.SendKeys(css(`#sets tr[data-set="Orders"] input[name=lookups]`), "Nope=Account.ERP_Id__c"),
		chromedp.Click(css(`#sets-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("sets-error").textContent.includes("has no served column Nope")`))
	step("a lookup and a name field", chromedp.Evaluate[chromedp.Void](`document.getElementById("notice").textContent = ""`),
		chromedp.SetValue(css(`#sets tr[data-set="Orders"] input[name=lookups]`), "CustomerId=Account.ERP_Id__c"),
		chromedp.SetValue(css(`#sets tr[data-set="Customers"] input[name=name_field]`), "Email"),
		chromedp.Click(css(`#sets-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Saved the entity set settings")`))
	if r := ag.api(t, "GET", "/api/sources/erp", nil); !strings.Contains(string(r.Body), `"lookups":{"Orders.CustomerId":"Account.ERP_Id__c"}`) || !strings.Contains(string(r.Body), `"name_fields":{"Customers":"Email"}`) {
		t.Errorf("the Salesforce settings were not saved: %s", r.Body)
	}

	// summary sets: one refused with the database's reason, one saved and
	// served, then listed with what Salesforce will get
	step("a summary that cannot be computed", chromedp.Click(id("summary-add")),
		chromedp.SendKeys(css(`#summaries tbody tr:last-child input[name=name]`), "country_customers"),
		chromedp.SendKeys(css(`#summaries tbody tr:last-child input[name=from]`), "Customers"),
		chromedp.SendKeys(css(`#summaries tbody tr:last-child input[name=dimensions]`), "Country, year(CreatedAt)"),
		chromedp.SendKeys(css(`#summaries tbody tr:last-child input[name=measures]`), "customers=count, names=sum(Name)"),
		chromedp.Click(css(`#summaries-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("summaries-error").textContent.includes("sum(Name): Name is Edm.String and cannot be summed")`))
	step("a summary set", chromedp.Evaluate[chromedp.Void](`document.getElementById("notice").textContent = ""`),
		chromedp.SetValue(css(`#summaries tbody tr:last-child input[name=measures]`), "customers=count, credit=sum(CreditLimit)"),
		chromedp.Click(css(`#summaries-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Saved the summary sets")`))
	eventually(t, 10*time.Second, "the summary set served", func() bool {
		r := do(t, "GET", ag.odata+"/odata/erp/"+encodeQuery("country_customers?$filter=Country eq 'Germany'&$top=1"), nil)
		return r.Status == 200 && strings.Contains(string(r.Body), `"Country":"Germany"`)
	})
	if r := ag.api(t, "GET", "/api/sources/erp", nil); !strings.Contains(string(r.Body), `"summaries":{"country_customers":{"from":"Customers","dimensions":["Country",{"year":"CreatedAt"}],"measures":{"customers":"count","credit":"sum(CreditLimit)"}}}`) {
		t.Errorf("the summary set as saved: %s", r.Body)
	}
	step("the summary set listed again", chromedp.Poll[chromedp.Void](`document.querySelector('#summaries tbody tr input[name=dimensions]') && document.querySelector('#summaries tbody tr input[name=dimensions]').value === "Country, year(CreatedAt)"`))
	// the sets table lists what serves, which the reopened source may not
	// yet be when the registration is shown: the page is read again
	step("the summary set among the entity sets, its search not editable", chromedp.Poll[chromedp.Void](
		`((window.setPolls = (window.setPolls || 0) + 1) % 10 === 0 && showDetail("erp"), `+
			`document.querySelector('#sets tr[data-set="country_customers"] input[name=search]') !== null && document.querySelector('#sets tr[data-set="country_customers"] input[name=search]').disabled)`))
	shot("admin-ops-summaries.png")

	// read replicas: one with a password of its own refused at the form,
	// one that does not answer saved and shown down (reads then go to the
	// primary, and the source keeps serving)
	step("a standby with a password", chromedp.SetValue(id("standbys-urls"), "postgres://postgres:elsewhere@127.0.0.1:1/x"),
		chromedp.Click(css(`#standbys-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("standbys-error").textContent.includes("leave the password out")`))
	step("a standby that does not answer", chromedp.Evaluate[chromedp.Void](`document.getElementById("notice").textContent = ""`),
		chromedp.SetValue(id("standbys-urls"), "postgres://127.0.0.1:1/nowhere"), chromedp.SetValue(id("standbys-lag"), "2s"),
		chromedp.Click(css(`#standbys-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Saved the read replicas")`))
	step("the standby down, the reads on the primary", chromedp.Poll[chromedp.Void](
		`((window.standbyPolls = (window.standbyPolls || 0) + 1) % 10 === 0 && showDetail("erp"), `+
			`document.querySelector("#standbys tbody td:nth-child(2)") !== null && document.querySelector("#standbys tbody td:nth-child(2)").textContent === "down")`))
	shot("admin-ops-standbys.png")
	if r := ag.api(t, "GET", "/api/sources/erp", nil); !strings.Contains(string(r.Body), `"replicas":["postgres://127.0.0.1:1/nowhere"],"max_replica_lag":"2s"`) {
		t.Errorf("the read replicas as saved: %s", r.Body)
	}
	if r := do(t, "GET", ag.odata+"/odata/erp/Customers(1)", nil); r.Status != 200 {
		t.Errorf("a read with the standby down: %d %s", r.Status, r.Body)
	}
	br.tab("sets")
	step("what Salesforce will get", chromedp.Poll[chromedp.Void](`document.getElementById("report").textContent.includes("country_customers__x  ←  summary of Customers (read-only)")`))
	if sum := text("#report-summary"); !strings.Contains(sum, "Summary sets, for reports: country_customers") {
		t.Errorf("the report's summary: %q", sum)
	}

	// the Salesforce metadata: instructions on the page, the package from the API
	br.tab("salesforce")
	if deploy := text("#sf-deploy"); !strings.Contains(deploy, "sf project deploy start --metadata-dir odatagw_erp") {
		t.Errorf("deploy instructions: %q", deploy)
	}
	pkg := ag.api(t, "GET", "/api/sources/erp/salesforce-metadata", nil)
	zr, err := zip.NewReader(bytes.NewReader(pkg.Body), int64(len(pkg.Body)))
	if err != nil || pkg.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("metadata package: %v %s", err, pkg.Header.Get("Content-Type"))
	}
	var files []string
	for _, f := range zr.File {
		files = append(files, f.Name)
		if strings.HasSuffix(f.Name, ".namedCredential") {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			if !strings.Contains(string(b), "<parameterValue>"+ag.odata+"/odata/erp</parameterValue>") {
				t.Errorf("the named credential: %s", b)
			}
		}
	}
	if got := strings.Join(files, " "); !strings.Contains(got, "odatagw_erp/package.xml") || !strings.Contains(got, "odatagw_erp/dataSources/erp.dataSource") {
		t.Errorf("package files: %s", got)
	}

	// a report's scan of Orders, named as such with the summary that would replace it
	next := ag.odata + "/odata/erp/" + encodeQuery("Orders?$select=CustomerId,OrderDate,Total&$orderby=CustomerId&$top=900")
	for pages := 0; next != "" && pages < 10; pages++ {
		r := do(t, "GET", next, nil, "Prefer", "odata.maxpagesize=300")
		next, _ = r.JSON(t)["@odata.nextLink"].(string)
	}
	br.tab("insight")
	step("a report scan", chromedp.Reload(), chromedp.WaitVisible(css(`#detail > [data-tab="insight"]`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll("#shapes tbody th")).some(th => th.textContent === "report scan")`),
		chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll("#shapes tbody tr")).find(tr => tr.querySelector("th").textContent === "report scan").querySelector("button").click()`),
		chromedp.Poll[chromedp.Void](`!document.getElementById("shape-scan").hidden`))
	if scan, yaml := text("#shape-scan-text"), text("#shape-scan-yaml"); !strings.Contains(scan, "The last run read 900 rows") || !strings.Contains(yaml, "from: Orders") {
		t.Errorf("the report scan's details: %q\n%s", scan, yaml)
	}
	shot("admin-ops-report-scan.png")

	// request shapes: the list view's statement, sampled, and its plan
	step("a shape's details", chromedp.WaitVisible(css(`#shapes tbody tr`)),
		chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll("#shapes tbody tr")).find(tr => tr.querySelector("th").textContent === "list view").querySelector("button").click()`),
		chromedp.WaitVisible(id("shape-detail")),
		chromedp.Poll[chromedp.Void](`document.getElementById("shape-sql").textContent.includes("SELECT")`))
	if c := text("#callouts"); !strings.Contains(c, "Salesforce callouts this hour") || !strings.Contains(c, "20,000") {
		t.Errorf("the callout budget: %q", c)
	}
	step("sampling the shape", chromedp.Click(id("shape-sample")),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("Sampling is on")`))
	do2(t, "GET", ag.odata+"/odata/erp/"+encodeQuery("Customers?$top=5&$count=true"))
	step("the plan", chromedp.Click(id("shape-plan")),
		chromedp.Poll[chromedp.Void](`!document.getElementById("shape-plan-out").hidden && document.getElementById("shape-plan-out").textContent.length > 10`))
	shot("admin-ops-shapes.png")

	// agents: one added on the page, its token shown once, then removed
	br.view("agents")
	step("adding an agent", chromedp.SendKeys(id("a-name"), "plant-a"), chromedp.Click(css(`#add-agent button[type=submit]`)),
		chromedp.WaitVisible(css(`#agents tbody tr[data-agent="plant-a"]`)), chromedp.WaitVisible(id("agent-token")))
	if tok := text("#agent-token code"); !strings.HasPrefix(tok, "odgw_") {
		t.Errorf("the agent's token: %q", tok)
	}
	if row := text(`#agents tbody tr[data-agent="plant-a"]`); !strings.Contains(row, "none connected") {
		t.Errorf("the agent's row: %q", row)
	}
	shot("admin-ops-agents.png")
	step("removing the agent", chromedp.Click(css(`#agents tbody tr[data-agent="plant-a"] button[aria-label^="Remove the agent"]`)),
		chromedp.Poll[chromedp.Void](`!document.querySelector('#agents tbody tr[data-agent="plant-a"]')`))

	// the diff on the page: the org's side uploaded as a zip (here the
	// package itself, so that they agree)
	step("back to erp", chromedp.NavigateBack(), chromedp.WaitVisible(css(`#detail > [data-tab="insight"]`)))
	br.tab("salesforce")
	step("comparing with the org", chromedp.Evaluate[chromedp.Void](`(async () => {
	    const r = await fetch("/api/sources/erp/salesforce-metadata", { headers: authHeaders("GET"), credentials: "same-origin" });
	    const dt = new DataTransfer();
	    dt.items.add(new File([await r.blob()], "unpackaged.zip", { type: "application/zip" }));
	    document.getElementById("sf-retrieved").files = dt.files;
	    document.getElementById("sf-compare").click();
	  })()`),
		chromedp.Poll[chromedp.Void](`document.getElementById("sf-diff").textContent.includes("The org agrees with the package")`))
	step("choosing the legacy credential for 4.01", chromedp.Click(id("sf-legacy")), chromedp.Click(id("sf-download")),
		chromedp.Poll[chromedp.Void](`document.getElementById("notice").textContent.includes("works with the OData 4.0 type only")`))
	shot("admin-ops-salesforce.png")

	// every control has an accessible name, and can be reached with the keyboard
	unnamed := eval(`Array.from(document.querySelectorAll("button, input, select, [role=img]")).filter(e => e.offsetParent !== null || e.tagName === "svg")
	  .filter(e => !((e.labels && e.labels.length) || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || (e.textContent || "").trim()))
	  .map(e => e.id || e.name || e.outerHTML.slice(0, 60)).join(", ")`)
	if unnamed != "" {
		t.Errorf("controls without an accessible name: %s", unnamed)
	}
	if unreachable := eval(`Array.from(document.querySelectorAll("button, input, select")).filter(e => e.offsetParent !== null && e.tabIndex < 0).map(e => e.id).join(", ")`); unreachable != "" {
		t.Errorf("controls the keyboard cannot reach: %s", unreachable)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
