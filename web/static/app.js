// The cart app. Its replica of the cart is the Go cart package compiled to
// WebAssembly (globalThis.crdtd, made by cart.wasm): every edit applies
// there at once, is saved in browser storage, and is synced with the node
// (POST /v1/carts/{cart}/sync). Changes made elsewhere arrive as events on
// /v1/carts/{cart}/events; each one that differs from what this page
// shows triggers a sync, so that the replica merges the node's state.
// This file only wires the page: it makes no CRDT decision itself.

import "./wasm_exec.js";
import { apiFetch, askToken, readEvents, delay } from "./api.js";
import { claimDevice } from "./store.js";

const $ = (id) => document.getElementById(id);
const SYNC_TYPE = "application/vnd.crdtd.sync+msgpack";

let store; // the claimed device slot
let cartID = "";
let online = true; // whether the last call to the node got an answer
let behind = false; // the node asked to retry later (409 sync_behind)

main().catch((err) => showError("The app could not start: " + err.message));

async function main() {
  registerServiceWorker();
  const path = location.pathname;
  if (path.startsWith("/carts/")) cartID = decodeURIComponent(path.slice("/carts/".length));

  const go = new Go();
  const wasmURL = new URL("./cart.wasm", import.meta.url);
  const { instance } = await WebAssembly.instantiateStreaming(fetch(wasmURL), go.importObject);
  go.run(instance); // returns once main waits; crdtd is set by then

  store = await claimDevice();
  const opened = crdtd.open(store.load(), randomHex(8));
  if (opened.error) throw new Error("the cart saved in this browser is unreadable: " + opened.error);
  if (!store.load()) persist(); // keep the new device's ID

  if (!cartID) return showChooser();
  const bad = crdtd.validID(cartID);
  if (bad) {
    showChooser();
    return showError("Cart " + JSON.stringify(cartID) + " is " + bad);
  }
  openCart();
}

function randomHex(n) {
  const b = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function registerServiceWorker() {
  // The service worker keeps the app's files, so that the page also opens
  // while the node cannot be reached. It needs a secure context.
  const meta = document.querySelector('meta[name="crdtd-sw"]');
  if (!("serviceWorker" in navigator) || !meta) return;
  navigator.serviceWorker.register(meta.content, { scope: "/" }).catch(() => {
    // Without it the app works online only; nothing to tell.
  });
}

// --- the chooser (/) ---

function showChooser() {
  $("chooser").hidden = false;
  $("open-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("open-name").value.trim();
    const bad = crdtd.validID(name);
    if (bad) return showError("Cart name " + bad);
    location.assign("/carts/" + encodeURIComponent(name));
  });
  const held = crdtd.carts();
  if (held.length) {
    const list = $("recent-list");
    for (const id of held) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/carts/" + encodeURIComponent(id);
      a.textContent = id;
      li.append(a);
      list.append(li);
    }
    $("recent").hidden = false;
  }
  $("open-name").focus();
  syncOthers();
}

// --- the cart (/carts/{cart}) ---

function openCart() {
  document.title = cartID + " · Cart · crdtd";
  $("cart-name").textContent = cartID;
  $("cart").hidden = false;
  $("add-form").addEventListener("submit", onAdd);
  $("clear").addEventListener("click", () => {
    if (crdtd.view(cartID).lines.length === 0) return;
    edit(() => crdtd.clear(cartID));
  });
  $("line-rows").addEventListener("submit", onLineSubmit);
  $("line-rows").addEventListener("click", onLineClick);
  addEventListener("online", () => sync());
  render();
  sync();
  watch();
  syncOthers();
}

function onAdd(ev) {
  ev.preventDefault();
  // (elements.item would be the collection's item method, hence namedItem.)
  const field = (name) => ev.target.elements.namedItem(name);
  const item = field("item"), qty = field("quantity"), price = field("price");
  const ok = edit(() => crdtd.add(cartID, item.value.trim(), qty.value.trim(), price.value.trim()));
  if (ok) {
    item.value = "";
    qty.value = "1";
    price.value = "";
    item.focus();
  }
}

// Each line has a quantity form and a price form; Enter in either field or
// its button submits it.
function onLineSubmit(ev) {
  ev.preventDefault();
  const form = ev.target;
  const item = form.closest("tr").dataset.item;
  const input = form.elements.value;
  if (form.dataset.kind === "quantity") {
    edit(() => crdtd.setQuantity(cartID, item, input.value.trim()));
  } else {
    edit(() => crdtd.setPrice(cartID, item, input.value.trim()));
  }
}

function onLineClick(ev) {
  const btn = ev.target.closest("button.remove");
  if (!btn) return;
  const row = btn.closest("tr");
  const next = row.nextElementSibling || row.previousElementSibling;
  edit(() => crdtd.remove(cartID, row.dataset.item));
  // Keep the keyboard user in the table.
  const target = next && next.isConnected ? next.querySelector("button.remove") : $("add-form").elements.namedItem("item");
  target.focus();
}

// edit runs one edit of the replica; on success it saves, renders and
// syncs. It reports whether the edit was made.
function edit(fn) {
  const err = fn();
  if (err) {
    showError(err);
    return false;
  }
  clearError();
  persist();
  render();
  sync();
  return true;
}

function persist() {
  const s = crdtd.state();
  try {
    if (s.error) throw new Error(s.error);
    store.save(s.state);
  } catch (err) {
    showError("This browser did not store the change (" + err.message + "): it is lost if the page reloads before it syncs.");
  }
}

// render shows the replica's view. A row is updated in place, and a field
// being edited keeps what the person typed.
function render() {
  const v = crdtd.view(cartID);
  const tbody = $("line-rows");
  const rows = new Map(Array.from(tbody.rows, (r) => [r.dataset.item, r]));
  let prev = null;
  for (const l of v.lines) {
    let row = rows.get(l.item);
    if (!row) row = newRow(l.item);
    rows.delete(l.item);
    setField(row.querySelector('[data-kind="quantity"] input'), l.quantity);
    setField(row.querySelector('[data-kind="price"] input'), l.priceInput);
    const sub = row.querySelector(".subtotal");
    sub.textContent = l.subtotal === null ? "unknown" : l.subtotal;
    sub.classList.toggle("unknown", l.subtotal === null);
    const want = prev ? prev.nextElementSibling : tbody.firstElementChild;
    if (want !== row) tbody.insertBefore(row, want);
    prev = row;
  }
  for (const row of rows.values()) row.remove();
  $("lines").hidden = v.lines.length === 0;
  $("empty").hidden = v.lines.length !== 0;
  $("total").textContent = v.total;
  const up = $("unpriced");
  up.hidden = v.unpriced === 0;
  up.textContent =
    v.unpriced === 1
      ? "1 line has no price yet: the total leaves it out."
      : v.unpriced + " lines have no price yet: the total leaves them out.";
  if (v.overflow) showError("Some figures are too large to show exactly and are capped.");
  renderStatus(v.pending);
}

function setField(input, value) {
  if (document.activeElement !== input || input.dataset.shown === input.value) input.value = value;
  input.dataset.shown = value;
}

let rowSeq = 0;

function newRow(item) {
  const n = ++rowSeq;
  // The roles keep the table a table for screen readers where the phone
  // layout (style.css) lays its rows out as grids.
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  row.dataset.item = item;
  const name = document.createElement("th");
  name.scope = "row";
  name.setAttribute("role", "rowheader");
  name.textContent = item;
  row.append(name, fieldCell("quantity", item, n), fieldCell("price", item, n));
  const sub = document.createElement("td");
  sub.className = "num subtotal";
  sub.setAttribute("role", "cell");
  const rm = document.createElement("td");
  rm.className = "actions";
  rm.setAttribute("role", "cell");
  const btn = document.createElement("button");
  btn.type = "button";
  btn.className = "remove";
  btn.textContent = "Remove";
  btn.setAttribute("aria-label", "Remove " + item);
  rm.append(btn);
  row.append(sub, rm);
  return row;
}

// fieldCell makes a small form with one labelled field and a Set button.
function fieldCell(kind, item, n) {
  const td = document.createElement("td");
  td.className = "num " + kind;
  td.setAttribute("role", "cell");
  const form = document.createElement("form");
  form.className = "inline";
  form.dataset.kind = kind;
  const id = kind + "-" + n;
  const label = document.createElement("label");
  label.className = "sr-only";
  label.htmlFor = id;
  label.textContent = (kind === "quantity" ? "Quantity of " : "Unit price of ") + item;
  const input = document.createElement("input");
  input.id = id;
  input.name = "value";
  input.autocomplete = "off";
  if (kind === "quantity") {
    input.type = "number";
    input.min = "0";
    input.max = "1000000";
    input.step = "1";
  } else {
    input.inputMode = "decimal";
    input.placeholder = "unknown";
  }
  const short = document.createElement("span");
  short.className = "short-label";
  short.setAttribute("aria-hidden", "true"); // the label above says it in full
  short.textContent = kind === "quantity" ? "Qty" : "Price";
  const btn = document.createElement("button");
  btn.textContent = "Set";
  btn.setAttribute("aria-label", (kind === "quantity" ? "Set quantity of " : "Set price of ") + item);
  form.append(label, short, input, btn);
  td.append(form);
  return td;
}

function renderStatus(pending) {
  const s = $("status");
  const waiting = pending === 1 ? "1 change waiting" : pending + " changes waiting";
  let text;
  if (!online) text = "offline — " + (pending ? waiting : "no changes waiting");
  else if (behind && pending) text = "syncing — " + waiting + " (the node is catching up)";
  else if (pending) text = "syncing — " + waiting;
  else text = "online — every change is on the node";
  s.textContent = text;
  s.dataset.online = String(online);
  s.dataset.pending = String(pending);
  s.classList.toggle("offline", !online);
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// --- sync ---

let syncing = false;
let again = false;
let retryTimer = 0;
let retryDelay = 250;

// sync exchanges the open cart with the node; calls while one runs make
// it run once more after, so no edit waits for the next trigger.
async function sync() {
  if (syncing) {
    again = true;
    return;
  }
  syncing = true;
  clearTimeout(retryTimer);
  try {
    do {
      again = false;
      const outcome = await syncOnce(cartID);
      if (outcome === "retry") {
        retryTimer = setTimeout(sync, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 4000);
      } else if (outcome === "ok") {
        retryDelay = 250;
      }
    } while (again);
  } finally {
    syncing = false;
    render();
  }
}

// syncOnce sends one sync of cart id and merges the answer. It returns
// "ok", "retry" (offline, or the node is behind) or "stop" (an error
// shown to the person; the changes stay pending).
async function syncOnce(id) {
  const req = crdtd.syncRequest(id);
  if (req.error) {
    showError(req.error);
    return "stop";
  }
  let resp;
  try {
    resp = await apiFetch("/v1/carts/" + encodeURIComponent(id) + "/sync", {
      method: "POST",
      headers: { "Content-Type": SYNC_TYPE },
      body: req.body,
    });
  } catch {
    online = false;
    return "retry";
  }
  online = true;
  behind = false;
  if (resp.status === 401) {
    await askToken();
    again = true;
    return "ok";
  }
  if (resp.status === 409) {
    // sync_behind: the node has not seen yet changes this push builds on;
    // gossip brings them soon. Not an error: try again shortly.
    behind = true;
    return "retry";
  }
  if (resp.status >= 500) return "retry";
  if (!resp.ok) {
    showError("The node refused the changes: " + (await errorMessage(resp)));
    return "stop";
  }
  let answer;
  try {
    answer = new Uint8Array(await resp.arrayBuffer());
  } catch {
    online = false;
    return "retry"; // the answer was lost: the changes stay pending and go again
  }
  const res = crdtd.applySync(id, req.sent, answer);
  if (res.error) {
    showError(res.reused
      ? "This browser's copy of the cart is older than what the node has seen from it; its unsynced changes cannot be sent. " + res.error
      : res.error);
    return "stop";
  }
  if (res.changed) persist();
  return "ok";
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    return (body.error && body.error.message) || "HTTP " + resp.status;
  } catch {
    return "HTTP " + resp.status;
  }
}

// syncOthers sends the pending changes of the other carts this device
// holds, once: they were made in an earlier visit and wait for a page that
// has them open.
async function syncOthers() {
  for (const id of crdtd.pendingCarts()) {
    if (id === cartID) continue;
    if ((await syncOnce(id)) !== "ok") return;
  }
}

// --- live updates ---

// watch follows the cart's event stream for as long as the page is open,
// reconnecting after a pause when it breaks. An event whose view differs
// from the replica's triggers a sync (a pull): the replica must hold what
// it shows, not only the page.
async function watch() {
  let pause = 250;
  for (;;) {
    try {
      await readEvents("/v1/carts/" + encodeURIComponent(cartID) + "/events", {
        onOpen: () => {
          pause = 250;
          if (!online) {
            online = true;
            sync();
          }
        },
        onEvent: (type, data) => {
          if (type !== "cart") return;
          let view;
          try {
            view = JSON.parse(data);
          } catch {
            return;
          }
          if (viewKey(view) !== crdtd.view(cartID).key) sync();
        },
      });
    } catch (err) {
      if (err.status === 401) {
        await askToken();
        continue;
      }
      if (!err.status) {
        online = false;
        render();
      }
    }
    await delay(pause);
    pause = Math.min(pause * 2, 4000);
  }
}

// viewKey is the key crdtd.view computes, from a node's JSON view.
function viewKey(v) {
  return (v.items || [])
    .map((l) => l.item + "=" + l.quantity + "@" + (l.unit_price_cents === null ? "null" : l.unit_price_cents))
    .join(",");
}
