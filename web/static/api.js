// The node's HTTP API as the pages use it: fetch with the API token when
// the node wants one, the token prompt, and Server-Sent Events read through
// fetch.
//
// The token is kept in sessionStorage (this tab only, gone when it closes)
// and sent as a Bearer header. Events are read with fetch rather than
// EventSource because EventSource cannot send a header: the alternative, the
// token in the URL, would put it in access logs, proxies and the history.

const TOKEN_KEY = "crdtd.token";

/** The API token this tab was given, or "". */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

/** fetch of an API path, with the token when there is one. */
export function apiFetch(path, init = {}) {
  const headers = new Headers(init.headers || {});
  const t = token();
  if (t) headers.set("Authorization", "Bearer " + t);
  return fetch(path, { ...init, headers, cache: "no-store" });
}

let asking = null;

/**
 * Shows the token form (#token-form, with an input #token) and resolves
 * once a token was entered. Calls while the form is open share it.
 */
export function askToken() {
  if (asking) return asking;
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const note = document.getElementById("token-note");
  note.textContent = token()
    ? "The node refused that token. Enter the node's API token."
    : "This node needs its API token.";
  form.hidden = false;
  input.focus();
  asking = new Promise((resolve) => {
    form.addEventListener("submit", function onSubmit(ev) {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      input.value = "";
      form.hidden = true;
      form.removeEventListener("submit", onSubmit);
      asking = null;
      resolve();
    });
  });
  return asking;
}

/**
 * Reads the event stream at path until it ends or signal aborts, calling
 * onOpen when it opens and onEvent(type, data) for each event. It resolves
 * when the stream ends; it rejects on a network error, and with an Error
 * whose status is the HTTP status when the node refuses the stream.
 */
export async function readEvents(path, { signal, onOpen, onEvent }) {
  const resp = await apiFetch(path, { headers: { Accept: "text/event-stream" }, signal });
  if (!resp.ok) {
    const err = new Error("events: HTTP " + resp.status);
    err.status = resp.status;
    throw err;
  }
  onOpen();
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a comment: keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") type = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) onEvent(type, data.join("\n"));
    }
  }
}

/** A promise that resolves after ms milliseconds. */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
