// The admin page: signs in with the admin token (kept for this tab only),
// or with the session a sign-in link opened (`odatagw admin login`: an
// HttpOnly cookie, with a CSRF token for changes), then lists, adds,
// tests, reloads and removes data sources through the admin API. Every
// value from the server is set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("odatagw-admin-token") || "";
let csrf = ""; // the cookie session's, when signed in by a link
let current = null; // the source shown in the detail panel

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function call(method, path, body, headers) {
  const h = Object.assign({}, headers || {});
  if (token) h.Authorization = "Bearer " + token;
  else if (csrf && method !== "GET") h["X-CSRF-Token"] = csrf;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (_) { data = null; }
  }
  if (res.status === 401 && path !== "/api/session") {
    signOut("Your session ended: sign in again.");
  }
  return { ok: res.ok, status: res.status, data, etag: res.headers.get("ETag") };
}

function notice(msg) { $("notice").textContent = msg || ""; }

// count says how many: "1 error", "2 errors" (plural: the noun's plural,
// where adding "s" does not make it).
function count(n, noun, plural) {
  return n.toLocaleString("en-US") + " " + (n === 1 ? noun : plural || noun + "s");
}

function showFieldError(form, field, msg) {
  if (field === "auth") field = "basic"; // the policy's errors show under its fieldset
  const input = form.querySelector('[name="' + field + '"]');
  let box = input ? $(input.id + "-error") : null;
  if (field === "basic") box = $("f-auth-error");
  if (!input || !box) return false;
  box.textContent = msg;
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
  return input;
}

function clearErrors(form) {
  form.querySelectorAll(".error").forEach((e) => { e.hidden = true; e.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

// showError puts an API error next to its field, or under the form.
function showError(form, generalId, err) {
  const e = (err && err.error) || { message: "The gateway did not answer." };
  const at = e.target || e.field; // the input at fault (field: its older name)
  const input = at ? showFieldError(form, at, e.message) : false;
  if (input) { input.focus(); return; }
  const g = $(generalId);
  g.textContent = e.message;
  g.hidden = false;
}

// ---- sign in ----

async function signIn(ev) {
  ev.preventDefault();
  const form = $("signin");
  clearErrors(form);
  const value = $("token").value.trim();
  if (!value) {
    showFieldError(form, "token", "Enter the admin token.").focus();
    return;
  }
  token = value;
  const r = await call("GET", "/api/session");
  if (!r.ok) {
    token = "";
    showFieldError(form, "token", r.status === 401 ? "This token is not accepted." : "The gateway did not answer (" + r.status + ").").focus();
    return;
  }
  sessionStorage.setItem("odatagw-admin-token", token);
  $("token").value = "";
  showVersion(r.data.version);
  await enter();
}

async function signOut(msg) {
  const session = csrf;
  token = "";
  csrf = "";
  // a link's session ends on the gateway before the page says so
  if (session) {
    try {
      await fetch("/api/logout", { method: "POST", headers: { "X-CSRF-Token": session }, credentials: "same-origin" });
    } catch (_) { /* the gateway is gone: the cookie expires by itself */ }
  }
  sessionStorage.removeItem("odatagw-admin-token");
  $("app-view").hidden = true;
  $("signout").hidden = true;
  $("signin-view").hidden = false;
  notice(msg || "");
  $("token").focus();
}

function showVersion(v) {
  $("version").textContent = v || "";
  $("version").hidden = !v;
}

async function enter() {
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("signout").hidden = false;
  notice("");
  await refresh();
  await opsEnter();
  await route();
}

// ---- sources list ----

async function refresh() {
  const r = await call("GET", "/api/sources");
  if (!r.ok) return;
  const body = $("sources").querySelector("tbody");
  body.replaceChildren();
  const list = r.data.sources || [];
  $("no-sources").hidden = list.length > 0;
  for (const s of list) {
    const tr = el("tr");
    tr.dataset.source = s.name;
    tr.append(el("td", s.name));
    const state = s.state === "serving" && !s.connected ? "unreachable" : s.state;
    const st = el("td", state, "state-" + state);
    if (s.last_error) st.title = s.last_error;
    tr.append(st);
    tr.append(el("td", s.dsn, "mono"));
    tr.append(el("td", (s.entity_sets || []).length));
    tr.append(el("td", s.service_url, "mono"));
    const td = el("td");
    const b = el("button", "Details");
    b.type = "button";
    b.setAttribute("aria-label", "Details of " + s.name);
    b.addEventListener("click", () => go(sourceAddress(s.name)));
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
}

// refreshServices lists the services over several sources, each with
// its sources (a source's prefix, and whether it is served) and the
// download of its one Salesforce package.
async function refreshServices() {
  const r = await call("GET", "/api/services");
  if (!r.ok) return;
  const list = r.data.services || [];
  $("services-part").hidden = list.length === 0;
  const body = $("services").querySelector("tbody");
  body.replaceChildren();
  for (const s of list) {
    const tr = el("tr");
    tr.dataset.service = s.name;
    tr.append(el("td", s.name));
    const members = s.sources.map((m) => m.name + (m.prefix ? " (" + m.prefix + ")" : "") + (m.served ? "" : " — not served")).join(", ");
    const td = el("td", members);
    if (s.error) td.title = s.error;
    tr.append(td);
    tr.append(el("td", s.entity_sets.length));
    tr.append(el("td", s.service_url, "mono"));
    const act = el("td");
    const b = el("button", "Salesforce package");
    b.type = "button";
    b.setAttribute("aria-label", "Download the Salesforce package of " + s.name);
    b.addEventListener("click", () => downloadPackage(s.name, "/api/services/"));
    const d = el("button", "Details");
    d.type = "button";
    d.setAttribute("aria-label", "Details of the service " + s.name);
    d.addEventListener("click", () => go("#service/" + encodeURIComponent(s.name)));
    act.append(d, b);
    if (!s.configured) {
      const rm = el("button", "Remove", "danger");
      rm.type = "button";
      rm.setAttribute("aria-label", "Remove the service " + s.name);
      rm.addEventListener("click", () => removeService(s));
      act.append(rm);
    }
    tr.append(act);
    body.append(tr);
  }
  await serviceMembersForm();
}

// serviceMembersForm lists the served sources in the service form, each
// with a checkbox and the prefix its sets would take.
async function serviceMembersForm() {
  const r = await call("GET", "/api/sources");
  if (!r.ok) return;
  const box = $("s-members");
  const chosen = {};
  box.querySelectorAll("input[data-member]").forEach((i) => { chosen[i.dataset.member] = [i.checked, $("s-prefix-" + i.dataset.member).value]; });
  box.replaceChildren();
  for (const src of r.data.sources || []) {
    const row = el("div", null, "check");
    const cb = el("input");
    cb.type = "checkbox";
    cb.id = "s-member-" + src.name;
    cb.dataset.member = src.name;
    const label = el("label", src.name);
    label.htmlFor = cb.id;
    const prefix = el("input", null, "short");
    prefix.id = "s-prefix-" + src.name;
    prefix.placeholder = "prefix_";
    prefix.autocomplete = "off";
    prefix.setAttribute("aria-label", "Prefix of the sets of " + src.name);
    if (chosen[src.name]) [cb.checked, prefix.value] = chosen[src.name];
    row.append(cb, label, prefix);
    box.append(row);
  }
}

// pairs reads "a = b" lines into an object, "" when none.
function pairs(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.split("=").map((x) => (x || "").trim());
    if (k && v) out[k] = v;
  }
  return out;
}

async function addService(ev) {
  ev.preventDefault();
  const form = $("service-add");
  clearErrors(form);
  const s = { name: $("s-name").value.trim(), sources: {}, names: pairs($("s-names").value), relations: pairs($("s-relations").value),
    auth: { basic: $("s-basic").checked, anonymous: $("s-anonymous").checked } };
  form.querySelectorAll("input[data-member]:checked").forEach((i) => {
    const prefix = $("s-prefix-" + i.dataset.member).value.trim();
    s.sources[i.dataset.member] = prefix ? { prefix: prefix } : {};
  });
  if (!s.name) { showFieldError(form, "name", "Give the service a name.").focus(); return; }
  const b = form.querySelector('button[type="submit"]');
  b.disabled = true;
  notice("Composing the service…");
  const r = await call("POST", "/api/services", s);
  b.disabled = false;
  if (!r.ok) {
    notice("");
    const e = r.data && r.data.error;
    if (e && (e.target === "auth" || e.field === "auth")) { const box = $("s-auth-error"); box.textContent = e.message; box.hidden = false; return; }
    showError(form, "s-error", r.data);
    return;
  }
  form.reset();
  $("service-add-part").open = false;
  notice(r.data.name + " added: point one External Data Source at " + r.data.service_url);
  await refreshServices();
}

// showService reads a service into its view: its sets and where each
// comes from, its relations, and the requests made through it. It
// reports false when there is no such service.
async function showService(name) {
  const path = "/api/services/" + encodeURIComponent(name);
  const r = await call("GET", path);
  if (!r.ok) { notice("There is no service named " + name + "."); return false; }
  const s = r.data;
  $("service-title").textContent = s.name;
  $("service-summary").textContent = "Service URL " + s.service_url + ", over " +
    s.sources.map((m) => m.name + (m.prefix ? " (its sets as " + m.prefix + "…)" : "") + (m.served ? "" : ", not served") + (m.exposed ? "" : ", reached only here")).join("; ") +
    "." + (s.error ? " " + s.error : "");
  const sets = $("service-sets").querySelector("tbody");
  sets.replaceChildren();
  for (const es of s.entity_sets) {
    const tr = el("tr");
    const th = el("th", es.name);
    th.scope = "row";
    tr.append(th, el("td", es.source), el("td", es.source_set));
    sets.append(tr);
  }
  const rel = Object.keys(s.relations).sort().map((k) => k + " → " + s.relations[k]);
  $("service-relations").textContent = rel.length ? "Relations across its sources: " + rel.join("; ") + "." : "No relation across its sources.";
  const [sh, co] = await Promise.all([call("GET", path + "/shapes"), call("GET", path + "/callouts")]);
  if (co.ok) {
    const d = co.data;
    $("service-callouts").textContent = "Salesforce callouts this hour: " + d.this_hour.toLocaleString() + " of " + d.limit.toLocaleString() +
      " (" + d.percent.toFixed(1) + "%); last 24 hours: " + d.last_24h.toLocaleString() + ".";
  }
  const body = $("service-shapes").querySelector("tbody");
  body.replaceChildren();
  for (const e of (sh.ok && sh.data.shapes) || []) {
    const tr = el("tr");
    const th = el("th", e.name);
    th.scope = "row";
    const st = e.last_24h;
    tr.append(th, el("td", e.shape.set), el("td", st.calls.toLocaleString()), el("td", st.errors.toLocaleString()),
      el("td", st.p95_ms.toFixed(1) + " ms"), el("td", st.db_p95_ms.toFixed(1) + " ms"),
      el("td", st.calls ? Math.round(100 * st.cache_hits / st.calls) + "%" : "–"));
    body.append(tr);
  }
  $("service-package").onclick = () => downloadPackage(s.name, "/api/services/");
  return true;
}

async function removeService(s) {
  if (!confirm("Remove the service " + s.name + "? Its sources stay; Salesforce's objects of this service stop answering.")) return;
  const r = await call("DELETE", "/api/services/" + encodeURIComponent(s.name), undefined, { "If-Match": '"' + s.version + '"' });
  if (!r.ok) { notice("The service could not be removed: " + ((r.data && r.data.error && r.data.error.message) || r.status)); return; }
  notice(s.name + " removed.");
  await refreshServices();
}

// ---- detail ----

// showDetail reads a source into the detail view (views.js shows it), and
// says whether it could.
async function showDetail(name) {
  const r = await call("GET", "/api/sources/" + encodeURIComponent(name));
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Cannot read " + name); return false; }
  current = { status: r.data, etag: r.etag };
  const s = r.data;
  $("detail-title").textContent = s.name;
  let status = s.state === "serving" ? (s.connected ? "Serving; the database answers." : "Serving, but the database does not answer.") : "Not serving.";
  if (s.last_error) status += " Last error: " + s.last_error;
  if (s.cache) status += " Cache: " + s.cache.hits + " hits, " + s.cache.misses + " misses, " + Math.round(s.cache.bytes / 1024) + " KB.";
  $("detail-status").textContent = status;
  $("remove").hidden = s.origin === "config";
  renderConnect(s);
  opsShowDetail(s);
  $("report-summary").textContent = "Loading…";
  $("report").replaceChildren();
  const rep = await call("GET", "/api/sources/" + encodeURIComponent(name) + "/report");
  if (rep.ok) renderReport(rep.data, $("report"), $("report-summary"));
  else $("report-summary").textContent = (rep.data && rep.data.error && rep.data.error.message) || "No report: the source is not serving.";
  renderTracking(rep.ok ? rep.data : null);
  return true;
}

// renderTracking says which sets log their changes (delta links for
// Salesforce's Change Data Capture, counts without a scan).
function renderTracking(rep) {
  $("track-out").hidden = true;
  $("f-apply-error").hidden = true;
  const tracked = rep ? (rep.tables || []).filter((t) => t.tracked).map((t) => t.entity_set) : [];
  $("tracking-status").textContent = tracked.length
    ? "Changes are tracked on " + tracked.join(", ") + ": Salesforce's Change Data Capture can poll them, and their counts need no scan."
    : "No table is tracked. Tracking lets Salesforce's Change Data Capture publish changes to these objects, whoever makes them, and makes counts cheap.";
  $("track-remove").hidden = !tracked.length;
}

// track shows the SQL, or runs it (as the gateway's database user).
async function track(apply, drop) {
  const name = current && current.status.name;
  if (!name) return;
  $("f-apply-error").hidden = true;
  const r = await call("POST", "/api/sources/" + encodeURIComponent(name) + "/track", { apply: apply, drop: drop });
  const out = $("track-out");
  if (!r.ok) {
    const box = $("f-apply-error");
    box.textContent = (r.data && r.data.error && r.data.error.message) || "The request failed.";
    box.hidden = false;
    box.focus();
    return;
  }
  out.textContent = r.data.sql;
  out.hidden = apply;
  if (apply) {
    notice(drop ? "Tracking removed from " + name + "." : "Tracking installed on " + name + ".");
    await showDetail(name);
  } else {
    out.focus();
  }
}

// loopback says whether a URL names this machine only, which Salesforce,
// calling from the internet, cannot reach.
function loopback(u) {
  try {
    const h = new URL(u).hostname;
    return h === "localhost" || h === "[::1]" || h.startsWith("127.") || h === "0.0.0.0";
  } catch (_) { return false; }
}

// renderConnect gives the External Data Source's settings by hand, as
// the README's table gives them.
function renderConnect(s) {
  const writable = !s.read_only;
  const far = $("connect-unreachable");
  far.hidden = !loopback(s.service_url);
  far.textContent = far.hidden ? "" : "Salesforce cannot reach " + s.service_url + ": it calls from the internet, over HTTPS. " +
    "Serve the gateway at an address Salesforce reaches (TLS with --tls-cert and --tls-key, or behind a TLS proxy) and set --public-url " +
    "(public_url in the configuration) to that address; the URL below follows it.";
  const rows = [
    ["Type", "Salesforce Connect: OData 4.01 (or OData 4.0)"],
    ["URL", s.service_url],
    ["Connection Timeout", "120 seconds"],
    ["Writable External Objects", writable ? "Checked, to create, edit and delete records from Salesforce (views stay read-only)" : "Unchecked (the source is read-only)"],
    ["High Data Volume", "Unchecked"],
    ["Server Driven Pagination", "Checked: pages follow a stable keyset (up to " + (s.page_size || 1000) + " rows), so rows are neither skipped nor repeated while data changes"],
    ["Request Row Counts", "Checked (OData 4.0; the 4.01 adapter always asks)"],
    ["Compress Requests", "Unchecked"],
    ["Enable Search", "Checked"],
    ["Use Free-Text Search Expressions", "Checked for $search (case-insensitive over all text fields); unchecked for contains() filters (case-sensitive, as OData defines)"],
    ["Format", "JSON"],
    ["Special Compatibility", "None"],
  ].concat(authRows(s.auth || {}));
  const dl = $("connect");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(el("dt", k));
    const dd = el("dd", v);
    if (k === "URL") dd.className = "mono";
    dl.append(dd);
  }
}

// authRows says which identity and protocol to choose in Salesforce for
// the source's policy.
function authRows(a) {
  if (a.basic) return [
    ["Identity Type", "Named Principal (one gateway user for the org) or Per User (a gateway user per Salesforce user)"],
    ["Authentication Protocol", "Password Authentication, with a gateway user's name and password (odatagw user add)"],
  ];
  if (a.bearer && a.bearer.introspection_url) return [
    ["Identity Type", "Named Principal or Per User"],
    ["Authentication Protocol", "OAuth 2.0, with an auth provider for the identity provider whose tokens " + a.bearer.introspection_url + " checks"],
  ];
  if (a.bearer) return [
    ["Identity Type", "Named Principal or Per User"],
    ["Authentication Protocol", "OAuth 2.0, with an auth provider whose tokens carry issuer " + (a.bearer.issuer || "?") + " and audience " + (a.bearer.audience || "?")],
  ];
  if (a.token_header) return [
    ["Identity Type", "Named Principal"],
    ["Authentication Protocol", "No Authentication, with a custom header " + a.token_header + " holding a gateway user's API token"],
  ];
  if (a.anonymous) return [
    ["Identity Type", "Anonymous"],
    ["Authentication Protocol", "No Authentication (anyone who reaches the gateway may call: restrict access at a proxy or with client certificates)"],
  ];
  return [["Authentication", "This source accepts no credentials yet: every request is refused. Change its auth settings."]];
}

function renderReport(rep, box, summary) {
  const summaries = (rep.tables || []).filter((t) => t.summary).map((t) => t.entity_set);
  summary.textContent = count((rep.tables || []).length, "entity set") + " (external objects), " + count(rep.errors, "error") + ", " + count(rep.warnings, "warning") + "." +
    (summaries.length ? " Summary sets, for reports: " + summaries.join(", ") + "; the package brings a report type for each." : "");
  box.replaceChildren();
  for (const t of rep.tables || []) {
    box.append(el("h4", t.entity_set + "__x  ←  " + (t.summary ? "summary of " + t.summary : (t.view ? "view " : "table ") + t.table) + (t.writable ? "" : " (read-only)")));
    const wrap = el("div", null, "scroll");
    const table = el("table");
    const head = el("tr");
    for (const h of ["Column", "Field", "Edm type", "Salesforce field"]) { const th = el("th", h); th.scope = "col"; head.append(th); }
    const thead = el("thead"); thead.append(head); table.append(thead);
    const tbody = el("tbody");
    for (const f of t.fields || []) {
      const tr = el("tr");
      tr.append(el("td", f.column, "mono"));
      tr.append(el("td", f.name + "__c", "mono"));
      tr.append(el("td", f.edm_type));
      tr.append(el("td", f.lookup || ((f.salesforce_type || "not synced") + (f.key ? ", External ID" : ""))));
      tbody.append(tr);
    }
    table.append(tbody);
    wrap.append(table);
    box.append(wrap);
    if (t.searched) {
      box.append(el("p", t.searched.length ? "Search reads " + t.searched.join(", ") + "." : "Search reads nothing (no text field): it finds no rows here.", "help"));
    }
    if (t.name_field) box.append(el("p", "Records are named by " + t.name_field + ".", "help"));
    problems(t.problems, box);
  }
  if ((rep.problems || []).length) {
    box.append(el("h4", "Left out of the service"));
    problems(rep.problems, box);
  }
  if ((rep.indexes || []).length) {
    box.append(el("h4", "Indexes Salesforce's traffic needs"));
    box.append(el("p", "The database lacks these. Run them with psql (each builds without blocking writes), or print them with odatagw check --indexes.", "help"));
    const needs = [...new Set(rep.indexes.map((ix) => ix.needs).filter(Boolean))];
    const sql = needs.concat(rep.indexes.map((ix) => "-- " + ix.table + " (" + ix.column + "), about " + ix.rows.toLocaleString("en-US") + " rows: " + ix.reason + "\n" + ix.sql)).join("\n");
    const pre = el("pre", sql, "mono");
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", "CREATE INDEX statements");
    box.append(pre);
  }
  const small = (rep.indexes_on_small_tables || []).length;
  if (small) {
    box.append(el("p", small + " more would serve tables under 10,000 rows, which a sequential scan reads as fast: not advised (odatagw check --indexes --small-tables prints them).", "help"));
  }
}

function problems(list, box) {
  if (!list || !list.length) return;
  const ul = el("ul");
  for (const p of list) {
    const li = el("li", null, "problem-" + p.severity);
    li.append(el("strong", p.severity + ": "));
    li.append(document.createTextNode(p.object + ": " + p.message));
    if (p.fix) { li.append(el("br")); li.append(document.createTextNode("What to do: " + p.fix)); }
    ul.append(li);
  }
  box.append(ul);
}

async function reload() {
  if (!current) return;
  const b = $("reload");
  b.disabled = true;
  const r = await call("POST", "/api/sources/" + encodeURIComponent(current.status.name) + "/reload");
  b.disabled = false;
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Reload failed."); return; }
  notice(r.data.warning ? "Reloaded. Warning: " + r.data.warning : "Schema reloaded.");
  await showDetail(current.status.name);
  await refresh();
}

async function remove() {
  if (!current) return;
  const name = current.status.name;
  if (!window.confirm("Remove " + name + "? Salesforce loses access to its objects.")) return;
  const r = await call("DELETE", "/api/sources/" + encodeURIComponent(name), undefined, current.etag ? { "If-Match": current.etag } : {});
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Remove failed."); return; }
  notice(name + " removed.");
  closeDetail();
  go("#sources");
}

function closeDetail() {
  current = null;
  opsCloseDetail();
}

// ---- add / test ----

function formSource() {
  const f = $("add");
  const schemas = f.schemas.value.split(",").map((s) => s.trim()).filter(Boolean);
  const s = { name: f.name.value.trim(), dsn: f.dsn.value.trim(), read_only: f.read_only.checked };
  s.auth = { basic: f.basic.checked, anonymous: f.anonymous.checked };
  if (f.token.checked) s.auth.token_header = f.token_header.value.trim();
  if (f.oauth.checked) {
    s.auth.bearer = { introspection_url: f.introspection_url.value.trim(), client_id: f.client_id.value.trim(),
      client_secret_env: f.client_secret_env.value.trim() };
    if (f.audience.value.trim()) s.auth.bearer.audience = f.audience.value.trim();
  }
  if (f.password.value) s.password = f.password.value;
  if (schemas.length) s.schemas = schemas;
  if (f.via.value.trim()) s.via = f.via.value.trim();
  return s;
}

function checkForm(form, s) {
  let first = null;
  if (!s.name) first = showFieldError(form, "name", "Give the source a name.");
  if (!s.dsn) first = first || showFieldError(form, "dsn", "Give the database URL.");
  if (first) first.focus();
  return !first;
}

async function test() {
  const form = $("add");
  clearErrors(form);
  const s = formSource();
  if (!s.name) s.name = "test";
  if (!s.dsn) { showFieldError(form, "dsn", "Give the database URL.").focus(); return; }
  const b = $("test");
  b.disabled = true;
  notice("Connecting…");
  const r = await call("POST", "/api/test", s);
  b.disabled = false;
  const out = $("test-result");
  if (!r.ok) { notice(""); out.hidden = true; showError(form, "add-error", r.data); return; }
  notice("The connection works.");
  out.hidden = false;
  out.replaceChildren(el("h3", "Test result"));
  const summary = el("p");
  out.append(summary);
  const box = el("div");
  out.append(box);
  renderReport(r.data, box, summary);
}

async function add(ev) {
  ev.preventDefault();
  const form = $("add");
  clearErrors(form);
  const s = formSource();
  if (!checkForm(form, s)) return;
  const b = form.querySelector('button[type="submit"]');
  b.disabled = true;
  notice("Connecting and reading the schema…");
  const r = await call("POST", "/api/sources", s);
  b.disabled = false;
  if (!r.ok) { notice(""); showError(form, "add-error", r.data); return; }
  form.reset();
  $("f-oauth-fields").hidden = $("f-token-fields").hidden = true;
  $("test-result").hidden = true;
  notice(r.data.name + " added: Salesforce can reach it now.");
  await refresh();
  go(sourceAddress(r.data.name));
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut("Signed out."));
  $("add").addEventListener("submit", add);
  $("service-add").addEventListener("submit", addService);
  $("close-service").addEventListener("click", () => go("#sources"));
  $("test").addEventListener("click", test);
  $("reload").addEventListener("click", reload);
  $("remove").addEventListener("click", remove);
  $("close-detail").addEventListener("click", () => go("#sources"));
  $("track-sql").addEventListener("click", () => track(false, false));
  $("track-install").addEventListener("click", () => track(true, false));
  $("track-remove").addEventListener("click", () => track(true, true));
  // a choice's own settings open under its checkbox, and close with it
  for (const [box, fields, first] of [["f-oauth", "f-oauth-fields", "f-introspection-url"], ["f-token", "f-token-fields", "f-token-header"]]) {
    $(box).addEventListener("change", (e) => {
      $(fields).hidden = !e.target.checked;
      if (e.target.checked) $(first).focus();
    });
  }
  // a token this tab signed in with, or else a session a sign-in link opened
  call("GET", "/api/session").then((r) => {
    if (r.ok && !token) csrf = r.data.csrf || "";
    if (r.ok) showVersion(r.data.version);
    return r.ok ? enter() : signOut();
  });
});
