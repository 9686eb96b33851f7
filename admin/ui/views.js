// The page's views, one shown at a time, each at its own address: #overview,
// #sources, #agents, #users, #audit, #add, a source's #source/NAME with
// its tabs (#source/NAME/sets, /settings, /insight), and a service's
// #service/NAME. An address can be
// bookmarked, shared, reloaded and reached with the browser's Back button;
// moving to a view moves the keyboard focus to its heading. It uses
// app.js's helpers and its current source.
"use strict";

const VIEWS = ["overview", "sources", "agents", "users", "audit", "add"];
const TABS = ["salesforce", "sets", "settings", "insight"];
const TITLES = { overview: "Overview", sources: "Data sources", agents: "Agents", users: "Users", audit: "Audit", add: "Add a data source" };

// routeOf reads an address; anything it does not know is the overview.
function routeOf(hash) {
  const m = hash.match(/^#source\/([^/]+)(?:\/([a-z]+))?$/);
  if (m) return { view: "source", source: decodeURIComponent(m[1]), tab: TABS.includes(m[2]) ? m[2] : "salesforce" };
  const sv = hash.match(/^#service\/([^/]+)$/);
  if (sv) return { view: "service", service: decodeURIComponent(sv[1]) };
  const v = hash.replace(/^#/, "");
  return { view: VIEWS.includes(v) ? v : "overview" };
}

function sourceAddress(name, tab) {
  return "#source/" + encodeURIComponent(name) + (tab && tab !== "salesforce" ? "/" + tab : "");
}

// go moves to an address; the hashchange that follows shows it.
function go(address) {
  if (location.hash === address) route();
  else location.hash = address;
}

let routing = Promise.resolve();

// route shows the view the address names, one at a time (routes run in
// order, so that a quick second click does not race the first).
function route() {
  routing = routing.then(showRoute, showRoute);
  return routing;
}

async function showRoute() {
  if ($("app-view").hidden) return;
  const r = routeOf(location.hash);
  if (r.view === "source" && (!current || current.status.name !== r.source)) {
    if (!(await showDetail(r.source))) {
      history.replaceState(null, "", "#sources");
      return showRoute();
    }
  }
  if (r.view === "service" && !(await showService(r.service))) {
    history.replaceState(null, "", "#sources");
    return showRoute();
  }
  if (r.view !== "source" && current) closeDetail();
  for (const v of document.querySelectorAll("#app-view > [data-view]")) v.hidden = v.dataset.view !== r.view;
  const nav = r.view === "source" || r.view === "service" ? "sources" : r.view;
  for (const a of document.querySelectorAll("nav.views a")) {
    if (a.dataset.view === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let heading;
  if (r.view === "source") {
    heading = showTab(r.tab);
    document.title = current.status.name + " · odatagw admin";
  } else if (r.view === "service") {
    heading = $("service-title");
    document.title = r.service + " · odatagw admin";
  } else {
    if (r.view === "overview") loadOverview();
    if (r.view === "sources") { refresh(); refreshServices(); }
    heading = $(r.view + "-title");
    document.title = TITLES[r.view] + " · odatagw admin";
  }
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

// showTab shows one of a source's tabs and returns its heading.
function showTab(tab) {
  const name = current.status.name;
  for (const a of document.querySelectorAll("#detail nav.tabs a")) {
    a.href = sourceAddress(name, a.dataset.tab);
    if (a.dataset.tab === tab) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const d of document.querySelectorAll("#detail > [data-tab]")) d.hidden = d.dataset.tab !== tab;
  opsTabShown(tab);
  return document.querySelector('#detail > [data-tab="' + tab + '"] h3');
}

window.addEventListener("hashchange", route);
