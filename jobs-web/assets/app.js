// The dashboard's one script: a hash router and one function per view, drawing into
// <main> with DOM calls (never HTML from data). Every request is relative to the page, so
// the dashboard works under whatever path the host application mounts it.
"use strict";

const STATES = ["scheduled", "ready", "active", "succeeded", "dead"];
const REFRESH_MS = 3000;
const main = document.getElementById("main");
// The dashboard's root, relative to the page: "" at a path ending in "/", else the last
// segment ("/admin/jobs" → "jobs/"), as the server wrote it into the page's links.
const ROOT = location.pathname.endsWith("/") ? "" : location.pathname.split("/").pop() + "/";
let config = { read_only: true };
let timer = null;
// Bumped on every route change: a slow answer for a page left meanwhile is dropped.
let generation = 0;

// ---------------------------------------------------------------- helpers

/** Builds an element: h("a", {href: "#/"}, "text", child, ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** Calls the JSON API; changes are POSTs with a JSON body. */
async function api(path, body) {
  const init = body === undefined
    ? { headers: { Accept: "application/json" } }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(ROOT + "api/" + path, init);
  if (response.status === 401) {
    location.reload(); // the server answers the page with its login form
    throw new ApiError(401, "sign in again");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || response.statusText);
  return data;
}

const enc = encodeURIComponent;

function flash(message, kind) {
  const el = document.getElementById("flash");
  el.textContent = message;
  el.className = kind || "ok";
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

/** Runs a change, reports it, then redraws the current view. */
async function act(what, path, body) {
  try {
    const answer = await api(path, body === undefined ? {} : body);
    flash(what + ": " + summary(answer));
  } catch (e) {
    flash(what + " failed: " + e.message, "error");
  }
  route();
}

function summary(answer) {
  return Object.entries(answer)
    .filter(([, v]) => typeof v !== "object")
    .map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`)
    .join(", ") || "done";
}

function button(label, onclick, cls) {
  if (config.read_only) return null;
  return h("button", { type: "button", class: cls || "", onclick }, label);
}

function confirmed(question, then) {
  return () => { if (confirm(question)) then(); };
}

function stateBadge(state) {
  return h("span", { class: "state state-" + state }, state);
}

function time(ms) {
  if (!ms) return h("span", { class: "muted" }, "—");
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() }, ago(ms));
}

function ago(ms) {
  const secs = Math.round((Date.now() - ms) / 1000);
  const abs = Math.abs(secs);
  const text = abs < 60 ? abs + "s"
    : abs < 3600 ? Math.round(abs / 60) + "m"
    : abs < 86400 ? Math.round(abs / 3600) + "h"
    : Math.round(abs / 86400) + "d";
  return secs >= 0 ? text + " ago" : "in " + text;
}

function shortId(id) { return id.slice(0, 8) + "…" + id.slice(-4); }

function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** One line of a job's arguments, for tables. */
function argsLine(args) {
  const text = typeof args === "string" ? args : JSON.stringify(args);
  return text.length > 90 ? text.slice(0, 89) + "…" : text;
}

function progressBar(percent, message) {
  return h("div", { class: "progress", title: message || "" },
    h("div", { class: "bar", style: `width: ${percent}%` }),
    h("span", {}, `${percent}%` + (message ? " " + message : "")));
}

function refresh(fn, ms) {
  clearTimeout(timer);
  timer = setTimeout(fn, ms || REFRESH_MS);
}

function render(...children) {
  main.replaceChildren(...children.flat().filter(Boolean));
}

function jobHref(queue, id) { return `#/job/${enc(queue)}/${enc(id)}`; }
function listHref(queue, state, after) {
  return `#/queue/${enc(queue)}/${state}` + (after ? "?after=" + enc(after) : "");
}

// ---------------------------------------------------------------- the throughput chart

/** Succeeded (stacked under failed) per minute, as SVG bars with a small axis. */
function chart(minutes) {
  const W = 720, H = 160, left = 36, bottom = 20, top = 8;
  const n = Math.max(minutes.length, 1);
  const max = Math.max(1, ...minutes.map((m) => m.succeeded + m.failed));
  const scale = (H - bottom - top) / max;
  const slot = (W - left) / n;
  const bar = Math.max(1, slot - 2);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": "jobs ended per minute" });
  for (const frac of [0, 0.5, 1]) {
    const y = H - bottom - frac * max * scale;
    svg.append(s("line", { x1: left, x2: W, y1: y, y2: y, class: "grid" }),
      s("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, Math.round(frac * max)));
  }
  minutes.forEach((m, i) => {
    const x = left + i * slot + 1;
    const ok = m.succeeded * scale, bad = m.failed * scale;
    const label = `${new Date(m.minute_ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ` +
      `${m.succeeded} succeeded, ${m.failed} failed`;
    const g = s("g", {}, s("title", {}, label));
    if (ok > 0) g.append(s("rect", { x, width: bar, y: H - bottom - ok, height: ok, class: "ok" }));
    if (bad > 0) g.append(s("rect", { x, width: bar, y: H - bottom - ok - bad, height: bad, class: "bad" }));
    g.append(s("rect", { x, width: bar, y: top, height: H - bottom - top, class: "hover" }));
    svg.append(g);
  });
  if (minutes.length) {
    const first = minutes[0].minute_ms, last = minutes[minutes.length - 1].minute_ms;
    svg.append(s("text", { x: left, y: H - 4, class: "axis" }, `${Math.round((Date.now() - first) / 60000)} min ago`),
      s("text", { x: W, y: H - 4, class: "axis", "text-anchor": "end" }, last ? "now" : ""));
  }
  const totals = minutes.reduce((t, m) => [t[0] + m.succeeded, t[1] + m.failed], [0, 0]);
  return h("figure", { class: "chart-box" }, svg,
    h("figcaption", {},
      h("span", { class: "key ok" }), ` succeeded ${totals[0]}  `,
      h("span", { class: "key bad" }), ` failed ${totals[1]}`,
      h("span", { class: "muted" }, ` · per minute, last ${minutes.length} minutes`)));
}

// ---------------------------------------------------------------- views

async function viewQueues(gen) {
  const [queues, minutes] = await Promise.all([api("queues"), api("throughput")]);
  if (gen !== generation) return;
  const rows = queues.map((q) => h("tr", {},
    h("td", {}, h("a", { href: listHref(q.name, "ready") }, q.name),
      q.paused ? h("span", { class: "badge paused" }, "paused") : null),
    ...STATES.map((state) => h("td", { class: "num" },
      h("a", { href: listHref(q.name, state), class: q[state] ? "count state-text-" + state : "count zero" }, q[state]))),
    h("td", { class: "actions" }, q.paused
      ? button("Resume", () => act(`Resume ${q.name}`, `queues/${enc(q.name)}/resume`))
      : button("Pause", () => act(`Pause ${q.name}`, `queues/${enc(q.name)}/pause`)))));
  render(
    h("h1", {}, "Queues"),
    h("table", { class: "grid-table", id: "queues" },
      h("thead", {}, h("tr", {}, h("th", {}, "queue"), ...STATES.map((st) => h("th", { class: "num" }, st)), h("th", {}))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No queues yet.")))),
    h("h2", {}, "Throughput"),
    chart(minutes));
  refresh(route);
}

async function viewQueue(gen, queue, state, params) {
  const after = params.get("after");
  const [q, page, minutes] = await Promise.all([
    api(`queues/${enc(queue)}`),
    api(`queues/${enc(queue)}/jobs?state=${state}&limit=25` + (after ? "&after=" + enc(after) : "")),
    api(`queues/${enc(queue)}/throughput`),
  ]);
  if (gen !== generation) return;
  const dead = state === "dead";
  const selected = new Set();
  const selectAll = dead && !config.read_only ? h("input", { type: "checkbox", title: "select all on this page",
    onchange: (e) => {
      main.querySelectorAll("input.pick").forEach((box) => { box.checked = e.target.checked; box.dispatchEvent(new Event("change")); });
    } }) : null;
  const rows = page.jobs.map((job) => h("tr", { "data-id": job.id },
    selectAll ? h("td", {}, h("input", { type: "checkbox", class: "pick",
      onchange: (e) => { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); } })) : null,
    h("td", { class: "nowrap" }, h("a", { href: jobHref(queue, job.id), class: "mono" }, shortId(job.id))),
    h("td", {}, job.name),
    h("td", { class: "args mono" }, argsLine(job.args)),
    h("td", {}, stateBadge(job.state)),
    h("td", { class: "num" }, `${job.attempts}/${job.max_attempts}`),
    h("td", { class: "nowrap" }, state === "scheduled" ? time(job.run_at_ms)
      : job.finished_at_ms ? time(job.finished_at_ms) : time(job.created_at_ms)),
    h("td", { class: "error" }, job.progress && state === "active"
      ? progressBar(job.progress.percent, job.progress.message)
      : job.error ? h("span", { title: job.error }, job.error.length > 80 ? job.error.slice(0, 79) + "…" : job.error) : ""),
    h("td", { class: "actions" }, rowActions(queue, job))));
  const tabs = h("nav", { class: "tabs" }, STATES.map((st) => h("a", {
    href: listHref(queue, st), class: st === state ? "active" : "" }, st, " ", h("span", { class: "count" }, q[st]))));
  const bulk = dead && !config.read_only ? h("div", { class: "toolbar" },
    button("Retry selected", () => {
      if (!selected.size) return flash("Select jobs first", "error");
      act(`Retry ${selected.size} jobs`, `queues/${enc(queue)}/retry`, { ids: [...selected] });
    }),
    button("Delete selected", () => {
      if (!selected.size) return flash("Select jobs first", "error");
      confirmed(`Delete ${selected.size} dead jobs?`, () =>
        act(`Delete ${selected.size} jobs`, `queues/${enc(queue)}/delete`, { ids: [...selected] }))();
    }, "danger"),
    h("span", { class: "spacer" }),
    button("Retry all", confirmed(`Retry all ${q.dead} dead jobs of ${queue}?`, () =>
      act("Retry all", `queues/${enc(queue)}/retry`, { all: true }))),
    button("Delete all", confirmed(`Delete all ${q.dead} dead jobs of ${queue}?`, () =>
      act("Delete all", `queues/${enc(queue)}/purge`, { state: "dead" })), "danger")) : null;
  const pager = h("div", { class: "pager" },
    after ? h("a", { href: listHref(queue, state) }, "« first page") : null,
    page.next ? h("a", { href: listHref(queue, state, page.next), id: "next-page" }, "next page »") : null);
  render(
    h("div", { class: "title-row" },
      h("h1", {}, h("a", { href: "#/" }, "Queues"), " / ", queue,
        q.paused ? h("span", { class: "badge paused" }, "paused") : null),
      q.paused ? button("Resume queue", () => act(`Resume ${queue}`, `queues/${enc(queue)}/resume`))
        : button("Pause queue", () => act(`Pause ${queue}`, `queues/${enc(queue)}/pause`))),
    tabs,
    bulk,
    h("table", { class: "grid-table", id: "jobs" },
      h("thead", {}, h("tr", {}, selectAll ? h("th", {}, selectAll) : null,
        ["id", "job", "arguments", "state", "attempts", state === "scheduled" ? "runs" : "when", "error / progress", ""]
          .map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows
        : h("tr", {}, h("td", { colspan: 9, class: "muted" }, `No ${state} jobs.`)))),
    pager,
    h("h2", {}, "Throughput"),
    chart(minutes));
}

function rowActions(queue, job) {
  const base = `queues/${enc(queue)}/jobs/${enc(job.id)}`;
  const ended = ["dead", "cancelled", "expired"].includes(job.state);
  return [
    ended ? button("Retry", () => act(`Retry ${shortId(job.id)}`, base + "/retry"), "retry") : null,
    ["scheduled", "ready", "active"].includes(job.state)
      ? button("Cancel", confirmed(`Cancel job ${job.id}?`, () => act(`Cancel ${shortId(job.id)}`, base + "/cancel")))
      : null,
    job.state !== "active"
      ? button("Delete", confirmed(`Delete job ${job.id}?`, () => act(`Delete ${shortId(job.id)}`, base + "/delete")), "danger")
      : null,
  ];
}

async function viewJob(gen, queue, id) {
  const job = await api(`queues/${enc(queue)}/jobs/${enc(id)}`);
  if (gen !== generation) return;
  const field = (name, value) => h("tr", {}, h("th", {}, name), h("td", {}, value));
  const events = job.events.map((e) => h("tr", {},
    h("td", {}, time(e.at_ms)),
    h("td", {}, stateBadge(e.kind)),
    h("td", { class: "mono wrap" }, e.percent !== null && e.percent !== undefined ? `${e.percent}% ` : "", e.detail || "")));
  render(
    h("div", { class: "title-row" },
      h("h1", {}, h("a", { href: listHref(queue, listedState(job.state)) }, queue), " / ", job.name, " ",
        h("span", { id: "job-state" }, stateBadge(job.state))),
      h("div", { class: "actions" }, rowActions(queue, job))),
    h("table", { class: "fields" },
      field("id", h("span", { class: "mono" }, job.id)),
      field("queue", h("a", { href: listHref(queue, "ready") }, queue)),
      field("attempts", `${job.attempts} of ${job.max_attempts}` +
        ` (${job.deliveries} deliveries` + (job.stalls ? `, ${job.stalls} stalls)` : ")")),
      field("priority", job.priority),
      field("enqueued", time(job.created_at_ms)),
      job.run_at_ms ? field("runs", time(job.run_at_ms)) : null,
      job.lease_expires_at_ms ? field("lease ends", time(job.lease_expires_at_ms)) : null,
      job.finished_at_ms ? field("finished", time(job.finished_at_ms)) : null,
      job.batch ? field("batch", h("a", { href: "#/batch/" + enc(job.batch), class: "mono" }, job.batch)) : null,
      job.progress ? field("progress", progressBar(job.progress.percent, job.progress.message)) : null),
    h("h2", {}, "Arguments"), json(job.args),
    job.error ? [h("h2", {}, "Error"), errorChain(job.error)] : null,
    job.result !== null && job.result !== undefined ? [h("h2", {}, "Result"), json(job.result)] : null,
    h("h2", {}, "Events"),
    events.length
      ? h("table", { class: "grid-table events" }, h("tbody", {}, events))
      : h("p", { class: "muted" }, "No events found in the queue's stream (trimmed, or none yet)."),
    job.events_complete ? null : h("p", { class: "muted" }, "The queue's stream is long: later events may be missing."));
  if (!["succeeded", "dead", "cancelled", "expired"].includes(job.state)) refresh(route, 2000);
}

function listedState(state) {
  return ["cancelled", "expired"].includes(state) ? "dead" : state;
}

/** The error chain as stored: the error and its causes, joined by ": ". */
function errorChain(error) {
  return h("div", { class: "error-chain" }, h("pre", {}, error));
}

async function viewDead(gen) {
  const queues = await api("queues");
  if (gen !== generation) return;
  const withDead = queues.filter((q) => q.dead > 0);
  render(
    h("h1", {}, "Dead jobs"),
    h("p", { class: "muted" }, "Jobs that failed for good, were cancelled, or expired, by queue."),
    h("table", { class: "grid-table", id: "dead-queues" },
      h("thead", {}, h("tr", {}, h("th", {}, "queue"), h("th", { class: "num" }, "dead"), h("th", {}))),
      h("tbody", {}, withDead.length ? withDead.map((q) => h("tr", {},
        h("td", {}, h("a", { href: listHref(q.name, "dead") }, q.name)),
        h("td", { class: "num" }, h("a", { href: listHref(q.name, "dead"), class: "count state-text-dead" }, q.dead)),
        h("td", { class: "actions" },
          button("Retry all", confirmed(`Retry all ${q.dead} dead jobs of ${q.name}?`, () =>
            act(`Retry all of ${q.name}`, `queues/${enc(q.name)}/retry`, { all: true }))))))
        : h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No dead jobs.")))));
  refresh(route);
}

function viewBatches() {
  const input = h("input", { name: "batch", placeholder: "batch id", size: 40, class: "mono", required: true });
  render(
    h("h1", {}, "Batches"),
    h("form", { class: "lookup", onsubmit: (e) => { e.preventDefault(); location.hash = "#/batch/" + enc(input.value.trim()); } },
      input, h("button", { type: "submit" }, "Show")),
    h("p", { class: "muted" }, "A job that belongs to a batch links to it from its page."));
}

async function viewBatch(gen, id, params) {
  const offset = Number(params.get("offset") || 0);
  const b = await api(`batches/${enc(id)}?limit=50&offset=${offset}`);
  if (gen !== generation) return;
  const done = b.succeeded + b.dead;
  const percent = b.total ? Math.round((done * 100) / b.total) : 0;
  const base = `batches/${enc(id)}`;
  const rows = b.members.map((m) => {
    const job = m.job;
    return h("tr", {},
      h("td", { class: "nowrap" }, h("a", { href: jobHref(m.queue, m.id), class: "mono" }, shortId(m.id))),
      h("td", {}, m.queue),
      h("td", {}, job ? job.name : ""),
      h("td", { class: "args mono" }, job ? argsLine(job.args) : ""),
      h("td", {}, job ? stateBadge(job.state) : h("span", { class: "muted" }, "gone")),
      h("td", {}, job && job.progress ? progressBar(job.progress.percent, job.progress.message) : ""),
      h("td", { class: "num" }, job ? `${job.attempts}/${job.max_attempts}` : ""),
      h("td", { class: "error" }, job && job.error ? job.error : ""));
  });
  render(
    h("div", { class: "title-row" },
      h("h1", {}, h("a", { href: "#/batches" }, "Batches"), " / ", h("span", { class: "mono" }, b.id),
        b.paused ? h("span", { class: "badge paused" }, "paused") : null,
        b.finished ? h("span", { class: "badge" }, "finished") : null),
      h("div", { class: "actions" },
        b.finished ? null : b.paused
          ? button("Resume batch", () => act("Resume batch", base + "/resume"))
          : button("Pause batch", () => act("Pause batch", base + "/pause")),
        b.finished ? null : button("Cancel batch", confirmed("Cancel every member not ended yet?", () =>
          act("Cancel batch", base + "/cancel")), "danger"))),
    h("div", { class: "counts" },
      ["total", "pending", "running", "succeeded", "dead"].map((k) =>
        h("div", { class: "count-box" }, h("b", { class: "state-text-" + k }, b[k]), h("span", {}, k)))),
    progressBar(percent, `${done} of ${b.total} ended`),
    h("h2", {}, "Members"),
    h("table", { class: "grid-table" },
      h("thead", {}, h("tr", {}, ["id", "queue", "job", "arguments", "state", "progress", "attempts", "error"]
        .map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)),
    h("div", { class: "pager" },
      offset > 0 ? h("a", { href: `#/batch/${enc(id)}?offset=${Math.max(0, offset - 50)}` }, "« previous") : null,
      b.next_offset !== null ? h("a", { href: `#/batch/${enc(id)}?offset=${b.next_offset}` }, "next »") : null));
  if (!b.finished) refresh(route);
}

async function viewWorkers(gen) {
  const workers = await api("workers");
  if (gen !== generation) return;
  render(
    h("h1", {}, "Workers"),
    h("table", { class: "grid-table", id: "workers" },
      h("thead", {}, h("tr", {}, ["host", "pid", "queues", "busy", "started", "last beat", "id"].map((c) => h("th", {}, c)))),
      h("tbody", {}, workers.length ? workers.map((w) => h("tr", {},
        h("td", {}, w.host),
        h("td", { class: "num" }, w.pid),
        h("td", {}, w.queues.join(", ")),
        h("td", {}, progressBar(Math.round((w.running * 100) / Math.max(1, w.concurrency)), `${w.running} of ${w.concurrency}`)),
        h("td", {}, time(w.started_at_ms)),
        h("td", {}, time(w.last_beat_ms)),
        h("td", { class: "mono muted" }, shortId(w.id))))
        : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No live workers.")))));
  refresh(route);
}

// ---------------------------------------------------------------- the router

const ROUTES = [
  [/^\/?$/, (gen) => viewQueues(gen), "queues"],
  [/^\/queue\/([^/]+)\/(scheduled|ready|active|succeeded|dead)$/, (gen, m, p) => viewQueue(gen, m[1], m[2], p), "queues"],
  [/^\/queue\/([^/]+)$/, (gen, m, p) => viewQueue(gen, m[1], "ready", p), "queues"],
  [/^\/job\/([^/]+)\/([^/]+)$/, (gen, m) => viewJob(gen, m[1], m[2]), "queues"],
  [/^\/dead$/, (gen) => viewDead(gen), "dead"],
  [/^\/batches$/, () => viewBatches(), "batches"],
  [/^\/batch\/([^/]+)$/, (gen, m, p) => viewBatch(gen, m[1], p), "batches"],
  [/^\/workers$/, (gen) => viewWorkers(gen), "workers"],
];

async function route() {
  clearTimeout(timer);
  const gen = ++generation;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  for (const [pattern, view, section] of ROUTES) {
    const m = path.match(pattern);
    if (!m) continue;
    document.querySelectorAll("nav a[data-nav]").forEach((a) =>
      a.classList.toggle("active", a.dataset.nav === section));
    try {
      await view(gen, m.map((part, i) => (i ? decodeURIComponent(part) : part)), params);
    } catch (e) {
      if (gen !== generation) return;
      render(h("div", { class: "problem" }, h("h1", {}, "Could not load this page"), h("p", {}, e.message)));
      if (e.status !== 404 && e.status !== 400) refresh(route, 5000);
    }
    return;
  }
  render(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the queues")));
}

async function start() {
  try {
    config = await api("config");
  } catch (e) {
    render(h("div", { class: "problem" }, h("h1", {}, "Could not reach the dashboard's API"), h("p", {}, e.message)));
    return;
  }
  document.body.classList.toggle("read-only", config.read_only);
  document.getElementById("mode").replaceChildren(config.read_only ? h("span", { class: "badge" }, "read-only") : "");
  window.addEventListener("hashchange", route);
  route();
}

start();
