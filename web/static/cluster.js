// The cluster page: this node's view of the cluster, read every second
// from /v1/status, /v1/members and /v1/activity. Rates and the lag
// percentile come from differences between two readings of running totals.

import { apiFetch, askToken, delay } from "./api.js";

const $ = (id) => document.getElementById(id);
const POINTS = 60; // one minute of samples

const writes = []; // writes per second on this node, newest last
const merges = []; // changes from peers merged per second
const lags = []; // p99 replication lag in seconds per interval, or null
let prev = null; // the previous activity reading, with its time

main();

async function main() {
  for (;;) {
    const started = performance.now();
    try {
      await refresh();
    } catch (err) {
      if (err.status === 401) {
        await askToken();
        continue;
      }
      $("status").textContent = "The node cannot be reached; retrying.";
      $("status").dataset.online = "false";
    }
    await delay(Math.max(0, 1000 - (performance.now() - started)));
  }
}

async function getJSON(path) {
  const resp = await apiFetch(path);
  if (!resp.ok) {
    const err = new Error(path + ": HTTP " + resp.status);
    err.status = resp.status;
    throw err;
  }
  return resp.json();
}

async function refresh() {
  const [status, members, activity] = await Promise.all([
    getJSON("/v1/status"),
    getJSON("/v1/members"),
    getJSON("/v1/activity"),
  ]);
  const now = performance.now();
  renderNode(status);
  renderMembers(status, members.members || []);
  if (prev) {
    const secs = (now - prev.at) / 1000;
    push(writes, Math.max(0, activity.operations_total - prev.a.operations_total) / secs);
    push(merges, Math.max(0, activity.remote_merges_total - prev.a.remote_merges_total) / secs);
    push(lags, quantile(prev.a.replication_lag_seconds, activity.replication_lag_seconds, 0.99));
  }
  prev = { a: activity, at: now };
  renderCharts();
  const s = $("status");
  s.textContent = "Live: updated " + new Date().toLocaleTimeString();
  s.dataset.online = "true";
}

function push(series, v) {
  series.push(v);
  if (series.length > POINTS) series.shift();
}

function renderNode(st) {
  const facts = [
    ["Node", st.node],
    ["Replica", st.replica],
    ["Ready", st.ready ? "yes" : "no: " + (st.not_ready || "unknown")],
    ["Members", `${st.members.alive} alive, ${st.members.suspect} suspect, ${st.members.dead} dead, ${st.members.left} left`],
    ["Carts", String(st.carts)],
    ["Digest", st.digest],
    ["Up", duration(st.uptime_seconds)],
  ];
  const dl = $("node");
  dl.replaceChildren();
  for (const [k, v] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  for (const w of st.warnings || []) {
    const dt = document.createElement("dt");
    dt.textContent = "Warning";
    const dd = document.createElement("dd");
    dd.className = "warn";
    dd.textContent = w;
    dl.append(dt, dd);
  }
}

function renderMembers(st, members) {
  const peers = new Map((st.peers || []).map((p) => [p.name, p]));
  const tbody = $("member-rows");
  tbody.replaceChildren();
  for (const m of members) {
    const tr = document.createElement("tr");
    tr.dataset.member = m.name;
    const self = m.name === st.node;
    const p = peers.get(m.name);
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = m.name + (self ? " (this node)" : "");
    tr.append(name, cell(m.addr), cell(m.state, "state " + m.state));
    if (self) {
      tr.append(cell("–", "num"), cell("–"));
    } else if (p) {
      const age = p.heartbeat_staleness_seconds;
      tr.append(
        cell(age < 0 ? "none yet" : duration(age), "num" + (age > 5 ? " warn" : "")),
        cell(p.digest_checked_seconds_ago < 0 ? "not compared yet" : p.digest_agrees ? "agrees" : "differs", p.digest_agrees ? "ok" : "warn"),
      );
    } else {
      tr.append(cell("?", "num"), cell("?"));
    }
    tbody.append(tr);
  }
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function duration(s) {
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}

// quantile estimates the q-quantile of the observations made between two
// readings of a cumulative histogram, interpolating within the bucket, as
// Prometheus's histogram_quantile does. null when there were none.
function quantile(a, b, q) {
  const total = b.count - a.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  for (let i = 0; i < b.buckets.length; i++) {
    const n = b.buckets[i].count - ((a.buckets[i] && a.buckets[i].count) || 0);
    const below = i === 0 ? 0 : b.buckets[i - 1].count - ((a.buckets[i - 1] && a.buckets[i - 1].count) || 0);
    if (n >= rank) {
      const inBucket = n - below;
      const frac = inBucket > 0 ? (rank - below) / inBucket : 1;
      return lower + (b.buckets[i].le - lower) * frac;
    }
    lower = b.buckets[i].le;
  }
  return lower; // beyond the last bound: at least that much
}

function renderCharts() {
  const last = (series) => (series.length ? series[series.length - 1] : null);
  const rate = (v) => (v === null ? "–" : v.toFixed(v < 10 ? 1 : 0));
  $("writes-now").textContent = rate(last(writes));
  $("merges-now").textContent = rate(last(merges));
  const l = last(lags);
  $("lag-now").textContent = l === null ? "no changes from other nodes" : duration(l);
  chart($("writes-chart"), [writes, merges], (v) => v.toFixed(0) + "/s");
  chart($("lag-chart"), [lags], (v) => duration(v));
}

// chart draws each series (null for a gap) as a line over the last POINTS
// samples, the first solid and the second dashed, scaled to the largest
// value, which the top label shows.
function chart(svg, all, label) {
  const NS = "http://www.w3.org/2000/svg";
  for (const el of Array.from(svg.children)) if (el.tagName !== "desc") el.remove();
  const W = 300, H = 80, top = 14;
  const max = Math.max(...all.flat().filter((v) => v !== null), 0);
  const axis = document.createElementNS(NS, "line");
  axis.setAttribute("x1", "0");
  axis.setAttribute("x2", String(W));
  axis.setAttribute("y1", String(H - 0.5));
  axis.setAttribute("y2", String(H - 0.5));
  axis.setAttribute("class", "axis");
  const text = document.createElementNS(NS, "text");
  text.setAttribute("x", "2");
  text.setAttribute("y", "10");
  text.setAttribute("class", "label");
  text.textContent = "max " + label(max);
  svg.append(axis, text);
  const step = W / (POINTS - 1);
  all.forEach((series, n) => {
    const cls = n === 0 ? "line" : "line second";
    const x0 = W - (series.length - 1) * step;
    let pts = [];
    const flush = () => {
      if (pts.length === 1) {
        // A lone sample between gaps: a dot, since a line needs two.
        const [x, y] = pts[0].split(",");
        const dot = document.createElementNS(NS, "circle");
        dot.setAttribute("cx", x);
        dot.setAttribute("cy", y);
        dot.setAttribute("r", "1.5");
        dot.setAttribute("class", cls + " dot");
        svg.append(dot);
      } else if (pts.length > 1) {
        const line = document.createElementNS(NS, "polyline");
        line.setAttribute("points", pts.join(" "));
        line.setAttribute("class", cls);
        svg.append(line);
      }
      pts = [];
    };
    series.forEach((v, i) => {
      if (v === null) return flush();
      const y = max > 0 ? H - 1 - (v / max) * (H - 1 - top) : H - 1;
      pts.push((x0 + i * step).toFixed(1) + "," + y.toFixed(1));
    });
    flush();
  });
}
