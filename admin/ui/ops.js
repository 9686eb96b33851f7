// The admin page's operations: users, the traffic of the last hour drawn
// as SVG, per-set settings, the Salesforce metadata download and the audit
// records. It uses app.js's helpers ($, el, call, notice, errors). Every
// value from the server is set as text or as an SVG attribute, never as
// HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
let trafficTimer = null;
let trafficData = null;

// ---- entry points app.js calls ----

async function opsEnter() {
  await Promise.all([loadUsers(), loadAgents(), loadAuditSources(), loadAudit()]);
}

// ---- overview: is everything well? ----

async function loadOverview() {
  const [s, a, sv] = await Promise.all([call("GET", "/api/sources"), call("GET", "/api/agents"), call("GET", "/api/services")]);
  const list = $("overview-list");
  const items = [];
  // each line may link to the view where it is looked into
  const say = (text, bad, href, label) => items.push({ text, bad, href, label });
  const srcs = (s.ok && s.data.sources) || [];
  const down = srcs.filter((x) => x.state !== "serving" || !x.connected);
  say(srcs.length - down.length + " of " + count(srcs.length, "source") + " serving" + (down.length ? "; not serving: " + down.map((x) => x.name + " (" + (x.state === "serving" ? "unreachable" : x.state) + ")").join(", ") : "."), down.length > 0,
    down.length ? sourceAddress(down[0].name) : "#sources", down.length ? "Open " + down[0].name : "The sources");
  const withStandbys = srcs.filter((x) => x.standbys);
  if (withStandbys.length) {
    const gone = withStandbys.filter((x) => x.standbys.all_gone);
    say(gone.length ? "No standby in rotation for " + gone.map((x) => x.name).join(", ") + ": their reads go to the primary."
      : "Standbys take the reads of " + withStandbys.map((x) => x.name).join(", ") + ".", gone.length > 0,
    sourceAddress((gone[0] || withStandbys[0]).name), "Open " + (gone[0] || withStandbys[0]).name);
  }
  // services over several sources: whole while each of their sources serves
  const svcs = (sv.ok && sv.data.services) || [];
  if (svcs.length) {
    const broken = svcs.filter((x) => x.error || x.sources.some((m) => !m.served));
    say(count(svcs.length, "service") + " over several sources" + (broken.length
      ? "; not whole: " + broken.map((x) => x.name + " (" + (x.error || "source " + x.sources.filter((m) => !m.served).map((m) => m.name).join(", ") + " not served") + ")").join(", ")
      : ": " + svcs.map((x) => x.name + " (" + x.sources.map((m) => m.name).join(", ") + ")").join("; ") + "."), broken.length > 0, "#sources", "The services");
  }
  if (a.ok) {
    const agents = a.data.agents || [];
    const gone = agents.filter((x) => (x.sources || []).length && !(x.tunnels || []).length);
    if (agents.length) say(count(agents.length, "agent") + ", " + count(agents.reduce((n, x) => n + (x.tunnels || []).length, 0), "tunnel") + " connected" + (gone.length ? "; not connected while sources need them: " + gone.map((x) => x.name).join(", ") : "."), gone.length > 0, "#agents", "The agents");
  }
  // errors are what the admin must act on (5xx, timeouts among them);
  // refusals are requests refused as sent (4xx), by status: the traffic
  // counts every request the sources answered, as the insight tab shows
  let errors = 0, refusals = 0, worst = null, slow = [], failing = null, refusing = null, scans = [];
  const refused = {};
  for (const src of srcs.filter((x) => x.state === "serving")) {
    const path = "/api/sources/" + encodeURIComponent(src.name);
    const [sh, co, tr] = await Promise.all([call("GET", path + "/shapes"), call("GET", path + "/callouts"), call("GET", path + "/traffic")]);
    for (const e of (sh.ok && sh.data.shapes) || []) {
      if (e.last_hour.calls && !e.shape.refused) slow.push({ src: src.name, e });
      if (e.report_scan) scans.push({ src: src.name, e });
    }
    const total = tr.ok && tr.data.series.length ? tr.data.series[0].total : null;
    if (total) {
      errors += total.errors;
      refusals += total.refusals;
      if (total.errors && !failing) failing = src.name;
      if (total.refusals && !refusing) refusing = src.name;
      for (const [status, n] of Object.entries(total.refused_by_status || {})) refused[status] = (refused[status] || 0) + n;
    }
    if (co.ok && (!worst || co.data.projected_percent > worst.p)) worst = { src: src.name, p: co.data.projected_percent, n: co.data.this_hour, limit: co.data.limit };
  }
  // a service's callouts count against its org's limit as a source's do
  for (const svc of svcs) {
    const co = await call("GET", "/api/services/" + encodeURIComponent(svc.name) + "/callouts");
    if (co.ok && (!worst || co.data.projected_percent > worst.p)) worst = { src: svc.name, p: co.data.projected_percent, n: co.data.this_hour, limit: co.data.limit, service: true };
  }
  const statuses = Object.keys(refused).sort().map((st) => refused[st] + " × " + st).join(", ");
  const where = failing || refusing;
  say(count(errors, "error") + " (5xx, timeouts) and " + count(refusals, "refusal") + (statuses ? " (" + statuses + ")" : " (4xx)") + " in the last hour.",
    errors > 0, where ? sourceAddress(where, "insight") : "", where ? "Where: " + where : "");
  slow.sort((x, y) => y.e.last_hour.p95_ms - x.e.last_hour.p95_ms);
  if (slow.length) say("Slowest in the last hour: " + slow.slice(0, 3).map((x) => x.e.name + " on " + x.e.shape.set + " (" + x.src + "), p95 " + x.e.last_hour.p95_ms.toFixed(0) + " ms").join("; ") + ".", slow[0].e.last_hour.p95_ms > 5000,
    sourceAddress(slow[0].src, "insight"), "Why is it slow?");
  if (scans.length) {
    const big = scans.filter((x) => x.e.report_scan.too_large || x.e.report_scan.over_groupings);
    say(count(scans.length, "report") + " scanned every row in the last 24 hours (" + scans.map((x) => x.e.shape.set + " on " + x.src).join(", ") + ")" +
      (big.length ? "; " + count(big.length, "scan") + " past what Salesforce shows or loads" : "") + ": a summary set would answer from the database.",
      big.length > 0, sourceAddress(scans[0].src, "insight"), "The report scans");
  }
  if (worst) say("Salesforce callouts: " + worst.n.toLocaleString() + " of " + worst.limit.toLocaleString() + " this hour on " + (worst.service ? "the service " : "") + worst.src + ", " + worst.p.toFixed(0) + "% at this pace.", worst.p > 80,
    worst.service ? "#sources" : sourceAddress(worst.src, "insight"), worst.service ? "The services" : "The budget of " + worst.src);
  list.replaceChildren(...items.map((i) => {
    const li = el("li", (i.bad ? "Needs a look: " : "") + i.text + " ", i.bad ? "bad" : "");
    if (i.href) {
      const a = el("a", i.label);
      a.href = i.href;
      li.append(a);
    }
    return li;
  }));
}

function opsShowDetail(s) {
  renderDeploy(s);
  renderSets(s);
  renderSummaries(s);
  renderStandbys(s);
}

// renderStandbys shows where the source's reads go and its standbys'
// settings.
function renderStandbys(s) {
  const table = $("standbys");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const rep = s.standbys;
  table.hidden = !rep;
  $("standbys-urls").value = (s.replicas || []).join("\n");
  $("standbys-lag").value = s.max_replica_lag || "";
  if (!rep) {
    $("standbys-status").textContent = (s.replicas || []).length ? "The standbys are not serving: the source is not open." : "No standby: every read goes to the primary.";
    return;
  }
  for (const st of rep.standbys) {
    const tr = el("tr");
    tr.append(el("td", st.address, "mono"));
    tr.append(el("td", st.state, "state-" + (st.state === "serving" ? "serving" : "failed")));
    tr.append(el("td", st.state === "down" ? "–" : (st.lag_ns / 1e9).toFixed(1) + " s"));
    tr.append(el("td", st.reads.toLocaleString("en")));
    tr.append(el("td", st.error || ""));
    body.append(tr);
  }
  const toPrimary = Object.values(rep.primary_reads || {}).reduce((a, b) => a + b, 0);
  $("standbys-status").textContent = rep.all_gone
    ? "No standby is in rotation: every read goes to the primary (" + toPrimary.toLocaleString("en") + " so far)."
    : toPrimary.toLocaleString("en") + " reads went to the primary: " + Object.entries(rep.primary_reads || {}).filter(([, n]) => n).map(([k, n]) => n + " " + k.replace("_", " ")).join(", ") + (toPrimary ? "." : "");
}

async function saveStandbys(ev) {
  ev.preventDefault();
  const urls = $("standbys-urls").value.split(/[\n,]/).map((u) => u.trim()).filter(Boolean);
  const lag = $("standbys-lag").value.trim();
  await saveRegistration((reg) => {
    if (urls.length) reg.replicas = urls; else delete reg.replicas;
    if (lag) reg.max_replica_lag = lag; else delete reg.max_replica_lag;
  }, $("standbys-error"), "the read replicas");
}

// opsTabShown keeps the traffic fresh while the insight tab is open, and
// only then.
function opsTabShown(tab) {
  clearInterval(trafficTimer);
  trafficTimer = null;
  if (tab !== "insight" || !current) return;
  const name = current.status.name;
  loadShapes(name);
  loadTraffic(name, true);
  trafficTimer = setInterval(() => { if (current) loadTraffic(current.status.name, false); }, 10000);
}

function opsCloseDetail() {
  clearInterval(trafficTimer);
  trafficTimer = null;
}

// ---- Salesforce metadata ----

function renderDeploy(s) {
  const dir = "odatagw_" + developerName(s.name);
  $("sf-deploy").textContent =
    "unzip " + dir + ".zip\n" +
    "sf project deploy start --metadata-dir " + dir + " --target-org YOUR_ORG --dry-run\n" +
    "sf project deploy start --metadata-dir " + dir + " --target-org YOUR_ORG\n" +
    "# then Setup > Named Credentials > External Credentials > odatagw " + s.name + ": enter the Gateway principal's credentials\n" +
    "# and assign the permission set odatagw_" + developerName(s.name) + " to the users who need the objects";
  $("sf-diff").replaceChildren();
}

// sfQuery is the package's choices as the API reads them.
function sfQuery() {
  const q = new URLSearchParams({ odata: $("sf-odata").value });
  if ($("sf-legacy").checked) q.set("credential", "legacy");
  return q.toString();
}

function authHeaders(method) {
  const h = {};
  if (token) h.Authorization = "Bearer " + token;
  else if (csrf && method !== "GET") h["X-CSRF-Token"] = csrf;
  return h;
}

async function errorOf(res) {
  try { const e = await res.json(); return (e.error && e.error.message) || res.status; } catch (_) { return res.status; }
}

async function compareMetadata() {
  if (!current) return;
  const file = $("sf-retrieved").files[0];
  if (!file) { notice("Choose the retrieved metadata zip first."); return; }
  const name = current.status.name;
  const h = authHeaders("POST");
  h["Content-Type"] = "application/zip";
  const res = await fetch("/api/sources/" + encodeURIComponent(name) + "/salesforce-diff?" + sfQuery(), { method: "POST", headers: h, body: file, credentials: "same-origin" });
  if (!res.ok) { notice("The comparison failed: " + await errorOf(res)); return; }
  const d = await res.json();
  const box = $("sf-diff");
  box.replaceChildren();
  const kinds = { add: "Deploying adds", change: "Deploying changes", leave: "Left in the org (the database no longer has it)" };
  if (d.changes.length === 0) box.append(el("p", "The org agrees with the package: deploying changes nothing."));
  else box.append(el("p", d.changes.length + " differences."));
  const list = el("ul");
  for (const c of d.changes) {
    const what = c.was && c.becomes ? c.was + " → " + c.becomes : (c.becomes || c.was || "");
    list.append(el("li", kinds[c.kind] + ": " + c.object + (what ? " (" + what + ")" : "")));
  }
  for (const c of d.sync_overwrites) {
    list.append(el("li", "A Validate and Sync would overwrite " + c.object + " (" + c.was + "): deploy the package again instead."));
  }
  box.append(list);
  notice("Compared with " + file.name + ".");
}

function developerName(name) {
  let n = name.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[A-Za-z]/.test(n)) n = "OData_" + n;
  return n.replace(/_+$/, "");
}

async function downloadMetadata() {
  if (!current) return;
  await downloadPackage(current.status.name, "/api/sources/");
}

// downloadPackage saves the Salesforce package of a source or, under
// /api/services/, of a service over several sources.
async function downloadPackage(name, under) {
  const res = await fetch(under + encodeURIComponent(name) + "/salesforce-metadata?" + sfQuery(), { headers: authHeaders("GET"), credentials: "same-origin" });
  if (!res.ok) { notice("The metadata could not be made: " + await errorOf(res)); return; }
  const url = URL.createObjectURL(await res.blob());
  const a = el("a");
  a.href = url;
  a.download = "odatagw_" + developerName(name) + ".zip";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  notice("Downloaded " + a.download + ".");
}

// ---- request shapes and the callout budget ----

let shownShape = null;

async function loadShapes(name) {
  $("shape-detail").hidden = true;
  const [r, c] = await Promise.all([call("GET", "/api/sources/" + encodeURIComponent(name) + "/shapes"),
    call("GET", "/api/sources/" + encodeURIComponent(name) + "/callouts")]);
  if (c.ok) {
    const d = c.data;
    $("callouts").textContent = "Salesforce callouts this hour: " + d.this_hour.toLocaleString() + " of " + d.limit.toLocaleString() +
      " (" + d.percent.toFixed(1) + "%; at this pace " + d.projected_this_hour.toLocaleString() + ", " + d.projected_percent.toFixed(0) +
      "%); last 24 hours: " + d.last_24h.toLocaleString() + "." + (d.savings.length ? " To spare some: " + d.savings.join(" ") : "");
  }
  const body = $("shapes").querySelector("tbody");
  body.replaceChildren();
  for (const s of (r.ok && r.data.shapes) || []) {
    const tr = el("tr");
    tr.dataset.shape = s.id;
    const th = el("th", s.name);
    th.scope = "row";
    tr.append(th, el("td", s.shape.set), el("td", s.shape.filter || (s.shape.by_key ? "by key" : "–"), "mono"),
      el("td", s.last_24h.calls.toLocaleString()), el("td", s.last_24h.errors.toLocaleString()),
      el("td", s.last_24h.refusals ? s.last_24h.refusals.toLocaleString() + " (" + byStatus(s.last_24h.refused_by_status) + ")" : "0"),
      el("td", s.last_24h.p95_ms.toFixed(1) + " ms"),
      el("td", s.last_24h.db_p95_ms.toFixed(1) + " ms"), el("td", (s.last_24h.total_ms / 1000).toFixed(2) + " s"),
      el("td", s.last_24h.calls ? Math.round(100 * s.last_24h.cache_hits / s.last_24h.calls) + "%" : "–"));
    const td = el("td");
    td.append(button("Details", "Details of the " + s.name + " on " + s.shape.set, () => showShape(name, s.id, "")));
    tr.append(td);
    body.append(tr);
  }
}

// byStatus lists refusals by status: "2 × 404, 1 × 400".
function byStatus(m) {
  return Object.keys(m || {}).sort().map((st) => m[st] + " × " + st).join(", ");
}

// planText is a plan with what deserves notice above it.
function planText(what, ex) {
  const scans = ex.scans || [];
  const dear = ex.costliest || [];
  return what + ": " + (scans.length ? "scans " + scans.join("; ") : "no table scan") + "\n" +
    (dear.length ? "Costliest steps: " + dear.join("; ") + "\n" : "") + "\n" + ex.plan.join("\n");
}

async function showShape(name, id, explain) {
  const sampling = !!(shownShape && shownShape.id === id && shownShape.sampling);
  shownShape = { name, id, sampling };
  const box = $("shape-detail");
  const err = $("shape-error");
  err.hidden = true;
  const r = await call("GET", "/api/sources/" + encodeURIComponent(name) + "/shapes/" + id + (explain ? "?explain=" + explain : ""));
  if (!r.ok && !(r.data && r.data.shape)) {
    const e = (r.data && r.data.error) || {};
    if (e.code === "NeedsSample" && sampling) {
      // sampling is on already: nothing is wrong, the values are to come
      notice("Sampling is on: the plan shows once a request of this shape has come (open the list view again, or wait for Salesforce's next one).");
      return;
    }
    err.textContent = e.message || "Not found (" + r.status + ").";
    err.hidden = false;
    return;
  }
  const d = r.data;
  shownShape.sampling = d.sampling;
  box.hidden = false;
  $("shape-title").textContent = d.name + " on " + d.shape.set + (d.shape.filter ? ": " + d.shape.filter : "");
  $("shape-sql").textContent = d.sql || "(no statement: a record page, a write, or the sync)";
  $("shape-sample").textContent = d.sampling ? "Turn off sampling (forget the values kept)" : "Turn on sampling (keep the next request's values, for the plan)";
  $("shape-sample").dataset.on = d.sampling ? "1" : "";
  if (r.data.error) {
    err.textContent = r.data.error.message;
    err.hidden = false;
  }
  // the database's time: what requests waited for, and where a count ran
  // beside the page, each statement's own
  const h = d.last_24h;
  let times = "Database time (what requests waited for): p95 " + h.db_p95_ms.toFixed(1) + " ms of a total p95 of " + h.p95_ms.toFixed(1) + " ms.";
  if (h.count_statements) {
    times += " The page's statement: " + h.page_db_mean_ms.toFixed(1) + " ms on average (longest " + h.page_db_max_ms.toFixed(1) + " ms); its count, run beside it: " +
      h.count_db_mean_ms.toFixed(1) + " ms on average (longest " + h.count_db_max_ms.toFixed(1) + " ms).";
  }
  if (h.standby_reads || h.primary_reads) {
    times += " Its statements ran " + (h.standby_reads || 0).toLocaleString("en") + " times on a standby and " + (h.primary_reads || 0).toLocaleString("en") +
      " on the primary" + (d.shape.method === "GET" ? " (the primary when no standby had replayed the newest write in time, or none was in rotation)." : ".");
  }
  $("shape-times").textContent = times;
  const countSQL = $("shape-count-sql");
  countSQL.hidden = !d.count_sql;
  countSQL.textContent = d.count_sql || "";
  const countAdvice = $("shape-count-advice");
  countAdvice.hidden = !d.count_advice && !d.counted_by;
  countAdvice.textContent = d.count_advice || (d.counted_by ? "The count reads no rows: it is made by " + d.counted_by + "." : "");
  for (const [box, what, ex] of [[$("shape-plan-out"), "The page", d.explanation], [$("shape-count-plan-out"), "Its count", d.count_explanation]]) {
    box.hidden = !ex;
    box.textContent = ex ? planText(what, ex) : "";
  }
  const adv = $("shape-advice");
  adv.replaceChildren();
  for (const a of d.advice || []) {
    adv.append(el("p", a.reason + ":"));
    adv.append(el("pre", (a.needs ? a.needs + "\n" : "") + a.sql, "mono"));
  }
  // a report scan: what each run reads, Salesforce's limits, the summary
  const scan = d.report_scan;
  $("shape-scan").hidden = !scan;
  if (scan) {
    let text = "A report scan: Salesforce read every row of this query, page after page, " + count(scan.runs_24h, "time") + " in the last 24 hours. " +
      "The last run read " + scan.rows_per_run.toLocaleString("en-US") + " rows (" + (scan.bytes_per_run / 1048576).toFixed(1) + " MB) in " +
      count(scan.pages_per_run, "page") + " over " + scan.seconds_per_run.toFixed(1) + " s.";
    if (scan.too_large) text += " A run read 16 MB or more, where Salesforce stops: \"The OData query result was too large\", and the report shows nothing.";
    else if (scan.over_groupings) text += " A run read more than 2,000 rows: more than a report shows, or groups.";
    text += scan.summary_yaml ? " A summary set answers such a report from the database in a few rows; declare it under Settings (adjust its dimensions to the report's groupings):" : "";
    $("shape-scan-text").textContent = text;
    $("shape-scan-yaml").textContent = scan.summary_yaml || "";
    $("shape-scan-yaml").hidden = !scan.summary_yaml;
  }
  if (!explain) $("shape-title").focus();
}

async function toggleSampling() {
  if (!shownShape) return;
  const on = !$("shape-sample").dataset.on;
  const r = await call("PUT", "/api/sources/" + encodeURIComponent(shownShape.name) + "/shapes/" + shownShape.id + "/sampling", { on });
  if (!r.ok) { notice("Sampling was not changed (" + r.status + ")."); return; }
  notice(on ? "Sampling is on: the shape's next request keeps its values for the plan." : "Sampling is off, and the values kept are forgotten.");
  await showShape(shownShape.name, shownShape.id, "");
}

// ---- traffic ----

async function loadTraffic(name, first) {
  const r = await call("GET", "/api/sources/" + encodeURIComponent(name) + "/traffic");
  if (!r.ok || !current || current.status.name !== name) return;
  trafficData = r.data;
  const sel = $("traffic-set");
  const chosen = sel.value;
  if (first || sel.options.length !== r.data.series.length) {
    sel.replaceChildren();
    for (const s of r.data.series) sel.append(new Option(seriesName(s), s.set));
    if (!first) sel.value = chosen;
  }
  renderTraffic();
}

// seriesName names a traffic series: a set, the whole source, or the
// requests that named no set ("$other", which no set can be called).
function seriesName(s) {
  return s.set === "" ? "Every set" : s.set === "$other" ? "No set ($metadata, service document, unknown sets)" : s.set;
}

function renderTraffic() {
  if (!trafficData) return;
  const series = trafficData.series.find((s) => s.set === $("traffic-set").value) || trafficData.series[0];
  const box = $("charts");
  box.replaceChildren();
  const pts = series.points;
  box.append(chart("Requests per second", pts.map((p) => p.rps), null, (v) => v.toFixed(1) + "/s"));
  box.append(chart("Errors (5xx) per step", pts.map((p) => p.errors), null, (v) => String(v)));
  box.append(chart("Cache hit ratio", pts.map((p) => p.cache_hit_ratio), null, (v) => Math.round(v * 100) + "%", 1));
  box.append(chart("Latency p50 and p95 (ms)", pts.map((p) => p.p50_ms), pts.map((p) => p.p95_ms), (v) => v + " ms"));
  box.append(chart("Rows returned per step", pts.map((p) => p.rows), null, (v) => String(v)));
  const body = $("traffic-table").querySelector("tbody");
  body.replaceChildren();
  for (const s of trafficData.series) {
    const t = s.total;
    const tr = el("tr");
    tr.append(el("th", seriesName(s)));
    tr.lastChild.scope = "row";
    tr.append(el("td", t.requests));
    tr.append(el("td", t.rps.toFixed(2)));
    tr.append(el("td", t.errors));
    tr.append(el("td", t.refusals ? t.refusals + " (" + byStatus(t.refused_by_status) + ")" : "0"));
    tr.append(el("td", t.cache_hit_ratio === null ? "–" : Math.round(t.cache_hit_ratio * 100) + "%"));
    tr.append(el("td", t.p50_ms === null ? "–" : "≤ " + t.p50_ms + " ms"));
    tr.append(el("td", t.p95_ms === null ? "–" : "≤ " + t.p95_ms + " ms"));
    tr.append(el("td", t.rows));
    body.append(tr);
  }
}

// chart draws one figure over the hour as an SVG line (a second, dashed
// line for the second figure), with a text alternative naming the latest
// value and the hour's peak. Missing values (null) break the line; a
// value alone between them is drawn as a dash.
function chart(title, values, second, fmt, fixedMax) {
  const fig = el("figure", null, "chart");
  const h = el("h4", title);
  fig.append(h);
  const W = 360, H = 90;
  const all = values.concat(second || []).filter((v) => v !== null && v !== undefined);
  const max = fixedMax || Math.max(1e-9, ...all);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const latest = [...values].reverse().find((v) => v !== null && v !== undefined);
  const peak = all.length ? Math.max(...all) : null;
  const label = title + ": " + (latest === undefined ? "no traffic" : "latest " + fmt(latest)) + (peak === null ? "" : ", peak " + fmt(peak)) + " in the last hour";
  svg.setAttribute("aria-label", label);
  const axis = document.createElementNS(SVG, "line");
  axis.setAttribute("x1", 0); axis.setAttribute("x2", W); axis.setAttribute("y1", H - 1); axis.setAttribute("y2", H - 1);
  axis.setAttribute("class", "axis");
  svg.append(axis);
  for (const [vals, cls] of [[values, "line"], [second, "line2"]]) {
    if (!vals) continue;
    let d = "";
    const missing = (v) => v === null || v === undefined;
    vals.forEach((v, i) => {
      if (missing(v)) return;
      const x = (i / (vals.length - 1)) * W, y = H - 2 - (v / max) * (H - 6);
      const alone = (i === 0 || missing(vals[i - 1])) && (i === vals.length - 1 || missing(vals[i + 1]));
      if (alone) {
        // a value with none beside it (a ratio of a quiet step) is a
        // short dash, where a line of one point would draw nothing
        d += "M" + (x - 2).toFixed(1) + " " + y.toFixed(1) + " L" + (x + 2).toFixed(1) + " " + y.toFixed(1) + " ";
        return;
      }
      d += (i === 0 || missing(vals[i - 1]) ? "M" : "L") + x.toFixed(1) + " " + y.toFixed(1) + " ";
    });
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d.trim() || "M0 " + (H - 1));
    path.setAttribute("class", cls);
    svg.append(path);
  }
  fig.append(svg);
  fig.append(el("figcaption", label, "now"));
  return fig;
}

// ---- per-set settings ----

function renderSets(s) {
  const body = $("sets").querySelector("tbody");
  body.replaceChildren();
  const search = s.search || {}, counts = s.set_count || {}, ttls = s.set_cache_ttl || {}, ro = s.read_only_sets || [];
  for (const set of s.entity_sets || []) {
    const id = "set-" + set.replace(/[^A-Za-z0-9_]/g, "_");
    // a summary set searches its text dimensions, counts its groups
    // exactly and is read-only: nothing of that to choose
    const summary = set in (s.summaries || {});
    const tr = el("tr");
    tr.dataset.set = set;
    const th = el("th", set);
    th.scope = "row";
    tr.append(th);
    const cols = el("input");
    cols.name = "search"; cols.id = id + "-search"; cols.value = (search[set] || []).join(", ");
    cols.setAttribute("aria-label", "Searched columns of " + set);
    cols.disabled = summary;
    if (summary) cols.placeholder = "its text dimensions";
    tr.append(cell(cols));
    const count = el("select");
    count.name = "count"; count.id = id + "-count";
    count.setAttribute("aria-label", "Count policy of " + set);
    for (const [v, t] of [["", "The source's (" + (s.count || "exact") + ")"], ["exact", "Exact"], ["estimated", "Estimated"], ["auto", "Auto"]]) count.append(new Option(t, v));
    count.value = counts[set] || "";
    count.disabled = summary;
    tr.append(cell(count));
    const box = el("input");
    box.type = "checkbox"; box.name = "read_only"; box.id = id + "-ro"; box.checked = ro.includes(set) || !!s.read_only || summary;
    box.disabled = !!s.read_only || summary;
    box.setAttribute("aria-label", "Read-only: " + set);
    tr.append(cell(box));
    const ttl = el("input");
    ttl.name = "ttl"; ttl.id = id + "-ttl"; ttl.value = ttls[set] || ""; ttl.className = "short";
    ttl.setAttribute("aria-label", "Cache duration of " + set);
    tr.append(cell(ttl));
    // the Salesforce package: the field that names records ("" default,
    // "-" none), and Indirect Lookups as column=Object.Field__c
    const nf = el("input");
    nf.name = "name_field"; nf.id = id + "-name"; nf.className = "short"; nf.placeholder = "default";
    const names = s.name_fields || {};
    nf.value = set in names ? (names[set] === "" ? "-" : names[set]) : "";
    nf.setAttribute("aria-label", "Name field of " + set + " in Salesforce (blank: the default, - for none)");
    tr.append(cell(nf));
    const lk = el("input");
    lk.name = "lookups"; lk.id = id + "-lookups"; lk.placeholder = "column=Account.Field__c";
    lk.value = Object.entries(s.lookups || {}).filter(([k]) => k.slice(0, k.lastIndexOf(".")) === set)
      .map(([k, v]) => k.slice(k.lastIndexOf(".") + 1) + "=" + v).join(", ");
    lk.setAttribute("aria-label", "Indirect Lookups of " + set + ": column=Object.Field__c, comma-separated");
    tr.append(cell(lk));
    body.append(tr);
  }
}

function cell(child) { const td = el("td"); td.append(child); return td; }

// ---- summary sets ----

// dimensionText writes a dimension as the form takes it: sku,
// account_id.industry, month(at), month(at) as shipped.
function dimensionText(d) {
  if (typeof d === "string") return d;
  const unit = ["year", "quarter", "month", "day"].find((u) => u in d);
  const text = unit ? unit + "(" + d[unit] + ")" : d.column;
  return d.as ? text + " as " + d.as : text;
}

// dimensionOf reads one back into the API's form.
function dimensionOf(text) {
  const [body, as] = text.split(/\s+as\s+/);
  const m = /^(year|quarter|month|day)\((.+)\)$/.exec(body.trim());
  if (!m && !as) return body.trim();
  const d = m ? { [m[1]]: m[2].trim() } : { column: body.trim() };
  if (as) d.as = as.trim();
  return d;
}

function renderSummaries(s) {
  const body = $("summaries").querySelector("tbody");
  body.replaceChildren();
  const all = s.summaries || {};
  for (const name of Object.keys(all).sort()) summaryRow(name, all[name]);
  $("no-summaries").hidden = Object.keys(all).length > 0;
}

function summaryRow(name, sum) {
  const body = $("summaries").querySelector("tbody");
  const n = body.children.length + 1;
  const tr = el("tr");
  const input = (field, value, label, cls) => {
    const i = el("input");
    i.name = field; i.id = "summary-" + n + "-" + field; i.value = value || "";
    if (cls) i.className = cls;
    i.setAttribute("aria-label", label);
    tr.append(cell(i));
  };
  input("name", name, "Name of summary set " + n, "short");
  input("from", sum.from, "Table grouped by summary set " + n, "short");
  input("dimensions", (sum.dimensions || []).map(dimensionText).join(", "), "Dimensions of summary set " + n + ", comma-separated", "wide");
  input("measures", Object.entries(sum.measures || {}).map(([k, v]) => k + "=" + v).join(", "), "Measures of summary set " + n + ": name=aggregate, comma-separated", "wide");
  input("where", sum.where, "Filter on the rows of summary set " + n);
  tr.append(cell(button("Remove", "Remove summary set " + n, () => { tr.remove(); }, "danger")));
  body.append(tr);
  $("no-summaries").hidden = true;
  return tr;
}

async function saveSummaries(ev) {
  ev.preventDefault();
  const summaries = {};
  for (const tr of $("summaries").querySelectorAll("tbody tr")) {
    const v = (f) => tr.querySelector('[name="' + f + '"]').value.trim();
    if (!v("name")) continue;
    const measures = {};
    for (const pair of v("measures").split(",").map((p) => p.trim()).filter(Boolean)) {
      const [k, agg] = pair.split("=").map((p) => p.trim());
      measures[k] = agg || "";
    }
    summaries[v("name")] = { from: v("from"), dimensions: v("dimensions").split(",").map((d) => d.trim()).filter(Boolean).map(dimensionOf), measures, where: v("where") };
  }
  await saveRegistration((reg) => { reg.summaries = summaries; }, $("summaries-error"), "the summary sets");
}

// the registration as the API takes it back: its settings, not its state
const statusOnly = ["state", "serving_version", "connected", "listening", "last_error", "last_error_at", "entity_sets", "service_url", "cache", "standbys"];

// saveRegistration saves the current source's registration as change
// leaves it, saying where err is what the gateway refused.
async function saveRegistration(change, err, what) {
  if (!current) return;
  err.hidden = true;
  const reg = Object.assign({}, current.status);
  for (const k of statusOnly) delete reg[k];
  change(reg);
  const r = await call("PUT", "/api/sources/" + encodeURIComponent(reg.name), reg, { "If-Match": current.etag });
  if (!r.ok) {
    err.textContent = (r.data && r.data.error && r.data.error.message) || "Not saved (" + r.status + ").";
    err.hidden = false;
    err.focus();
    return;
  }
  notice("Saved " + what + " of " + reg.name + "; the source is being reopened with them.");
  await showDetail(reg.name);
}

async function saveSets(ev) {
  ev.preventDefault();
  if (!current) return;
  const search = {}, setCount = {}, ttl = {}, ro = [], nameFields = {}, lookups = {};
  const sets = new Set(current.status.entity_sets || []);
  // lookups keyed by a table name that is not a set's are kept as they are
  for (const [k, v] of Object.entries(current.status.lookups || {})) {
    if (!sets.has(k.slice(0, k.lastIndexOf(".")))) lookups[k] = v;
  }
  for (const tr of $("sets").querySelectorAll("tbody tr")) {
    const set = tr.dataset.set;
    const cols = tr.querySelector('[name="search"]').value.split(",").map((c) => c.trim()).filter(Boolean);
    if (cols.length) search[set] = cols;
    const c = tr.querySelector('[name="count"]').value;
    if (c) setCount[set] = c;
    const t = tr.querySelector('[name="ttl"]').value.trim();
    if (t) ttl[set] = t;
    const roBox = tr.querySelector('[name="read_only"]');
    if (roBox.checked && !roBox.disabled) ro.push(set);
    const nf = tr.querySelector('[name="name_field"]').value.trim();
    if (nf) nameFields[set] = nf === "-" ? "" : nf;
    for (const pair of tr.querySelector('[name="lookups"]').value.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [col, target] = pair.split("=").map((p) => p.trim());
      lookups[set + "." + col] = target || "";
    }
  }
  await saveRegistration((reg) => {
    reg.search = search; reg.set_count = setCount; reg.set_cache_ttl = ttl; reg.read_only_sets = ro;
    reg.name_fields = nameFields; reg.lookups = lookups;
  }, $("sets-error"), "the entity set settings");
}

// ---- users ----

async function loadUsers() {
  const r = await call("GET", "/api/users");
  const body = $("users").querySelector("tbody");
  body.replaceChildren();
  const list = (r.ok && r.data.users) || [];
  $("no-users").hidden = list.length > 0;
  for (const u of list) {
    const tr = el("tr");
    tr.dataset.user = u.name;
    const th = el("th", u.name);
    th.scope = "row";
    tr.append(th);
    tr.append(el("td", u.kind === "token" ? "API token" : "Password"));
    const role = el("input");
    role.value = u.role || ""; role.className = "short"; role.name = "role";
    role.setAttribute("aria-label", "Database role of " + u.name);
    tr.append(cell(role));
    tr.append(el("td", new Date(u.created_at).toLocaleString()));
    const td = el("td");
    const save = button("Set role", "Set the database role of " + u.name, () => updateUser(u.name, { role: role.value.trim() }, "Role of " + u.name + " saved."));
    td.append(save);
    if (u.kind === "token") td.append(button("Rotate token", "Make a new API token for " + u.name, () => updateUser(u.name, { role: role.value.trim(), rotate_token: true }, null)));
    td.append(button("Remove", "Remove the user " + u.name, () => removeUser(u.name), "danger"));
    tr.append(td);
    body.append(tr);
  }
}

// ---- agents ----

async function loadAgents() {
  const r = await call("GET", "/api/agents");
  const body = $("agents").querySelector("tbody");
  body.replaceChildren();
  const list = (r.ok && r.data.agents) || [];
  $("no-agents").hidden = list.length > 0;
  for (const a of list) {
    const tr = el("tr");
    tr.dataset.agent = a.name;
    const th = el("th", a.name);
    th.scope = "row";
    tr.append(th);
    const tunnels = a.tunnels || [];
    tr.append(el("td", tunnels.length ? String(tunnels.length) : "none connected"));
    tr.append(el("td", tunnels.map((t) => t.remote).join(", ") || "–", "mono"));
    tr.append(el("td", [...new Set(tunnels.map((t) => t.version))].join(", ") || "–"));
    tr.append(el("td", tunnels.length ? Math.max(...tunnels.map((t) => t.rtt_ms)).toFixed(1) + " ms" : "–"));
    tr.append(el("td", String(tunnels.reduce((n, t) => n + t.streams, 0))));
    const mb = (n) => (n / 1e6).toFixed(1) + " MB";
    tr.append(el("td", tunnels.length ? mb(tunnels.reduce((n, t) => n + t.bytes_in, 0)) + " in, " + mb(tunnels.reduce((n, t) => n + t.bytes_out, 0)) + " out" : "–"));
    tr.append(el("td", tunnels.length ? new Date(Math.max(...tunnels.map((t) => Date.parse(t.last_seen)))).toLocaleString() : "–"));
    tr.append(el("td", (a.sources || []).join(", ") || "–"));
    const td = el("td");
    td.append(button("Rotate token", "Make a new token for the agent " + a.name + "; its tunnels are cut", () => agentAction("POST", a.name, "/rotate")));
    td.append(button("Remove", "Remove the agent " + a.name, () => agentAction("DELETE", a.name, ""), "danger"));
    tr.append(td);
    body.append(tr);
  }
}

function showAgentToken(name, tok) {
  const box = $("agent-token");
  box.replaceChildren(el("span", "The token of the agent " + name + ", shown this once: "), el("code", tok, "mono"));
  box.hidden = false;
}

async function agentAction(method, name, suffix) {
  if (method === "DELETE" && !confirm("Remove the agent " + name + "? Its tunnels are cut, and the sources through it stop answering.")) return;
  const r = await call(method, "/api/agents/" + encodeURIComponent(name) + suffix);
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Not done (" + r.status + ")."); return; }
  if (r.data && r.data.token) showAgentToken(name, r.data.token);
  notice(method === "DELETE" ? "Removed the agent " + name + "." : "Made a new token for " + name + ".");
  await loadAgents();
}

async function addAgent(ev) {
  ev.preventDefault();
  const form = $("add-agent");
  clearErrors(form);
  const name = form.name.value.trim();
  if (!name) { showFieldError(form, "name", "Give the agent a name.").focus(); return; }
  const r = await call("POST", "/api/agents", { name });
  if (!r.ok) { showError(form, "add-agent-error", r.data); return; }
  showAgentToken(name, r.data.token);
  form.reset();
  notice("Added the agent " + name + ".");
  await loadAgents();
}

function button(text, label, fn, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.addEventListener("click", fn);
  return b;
}

function showToken(name, tok) {
  const box = $("user-token");
  box.replaceChildren(el("span", "The API token of " + name + ", shown this once: "), el("code", tok, "mono"));
  box.hidden = false;
}

async function addUser(ev) {
  ev.preventDefault();
  const form = $("add-user");
  clearErrors(form);
  $("user-token").hidden = true;
  const kind = form.querySelector('[name="kind"]:checked').value;
  const body = { name: $("u-name").value.trim(), kind, role: $("u-role").value.trim() };
  if (!body.name) { showFieldError(form, "name", "Enter a name.").focus(); return; }
  if (kind === "password") body.password = $("u-password").value;
  const r = await call("POST", "/api/users", body);
  if (!r.ok) { showError(form, "add-user-error", r.data); return; }
  form.reset();
  if (r.data.token) showToken(r.data.name, r.data.token);
  notice("User " + r.data.name + " added.");
  await loadUsers();
}

async function updateUser(name, body, done) {
  const r = await call("PUT", "/api/users/" + encodeURIComponent(name), body);
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Not changed (" + r.status + ")."); return; }
  if (r.data.token) showToken(name, r.data.token);
  notice(done || "A new API token for " + name + " is shown above; the old one no longer works.");
  await loadUsers();
}

async function removeUser(name) {
  if (!confirm("Remove the user " + name + "? Salesforce connections that sign in as " + name + " stop working.")) return;
  const r = await call("DELETE", "/api/users/" + encodeURIComponent(name));
  if (!r.ok) { notice((r.data && r.data.error && r.data.error.message) || "Not removed (" + r.status + ")."); return; }
  notice("User " + name + " removed.");
  await loadUsers();
}

// ---- audit ----

async function loadAuditSources() {
  const r = await call("GET", "/api/sources");
  const sel = $("a-source");
  const chosen = sel.value;
  sel.replaceChildren(new Option("Every source", ""));
  for (const s of (r.ok && r.data.sources) || []) sel.append(new Option(s.name, s.name));
  sel.value = chosen;
}

async function loadAudit(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams({ source: $("a-source").value, user: $("a-user").value.trim(), event: $("a-event").value, limit: "200" });
  const r = await call("GET", "/api/audit?" + q);
  const body = $("audit").querySelector("tbody");
  body.replaceChildren();
  const list = (r.ok && r.data.records) || [];
  $("no-audit").hidden = list.length > 0;
  for (const a of list) {
    const tr = el("tr", null, a.event === "auth_failure" ? "problem-warning" : "");
    tr.append(el("td", new Date(a.time).toLocaleString()));
    tr.append(el("td", a.event === "write" ? "Write" : "Refused credential (" + (a.auth || "none") + ")"));
    tr.append(el("td", a.source));
    tr.append(el("td", a.set ? a.set + (a.key ? "(" + a.key + ")" : "") : "–"));
    tr.append(el("td", a.method));
    tr.append(el("td", a.user || "–"));
    tr.append(el("td", a.client, "mono"));
    tr.append(el("td", a.status || "–"));
    body.append(tr);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("sf-download").addEventListener("click", downloadMetadata);
  $("sf-compare").addEventListener("click", compareMetadata);
  $("shape-sample").addEventListener("click", toggleSampling);
  $("shape-plan").addEventListener("click", () => shownShape && showShape(shownShape.name, shownShape.id, "plan"));
  $("shape-analyze").addEventListener("click", () => shownShape && showShape(shownShape.name, shownShape.id, "analyze"));
  $("traffic-set").addEventListener("change", renderTraffic);
  $("traffic-refresh").addEventListener("click", () => current && loadTraffic(current.status.name, false));
  $("sets-form").addEventListener("submit", saveSets);
  $("summaries-form").addEventListener("submit", saveSummaries);
  $("standbys-form").addEventListener("submit", saveStandbys);
  $("summary-add").addEventListener("click", () => summaryRow("", {}).querySelector("input").focus());
  $("add-user").addEventListener("submit", addUser);
  $("add-agent").addEventListener("submit", addAgent);
  $("audit-filter").addEventListener("submit", loadAudit);
});
