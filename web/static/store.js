// Browser storage of the page's cart replica: the WebAssembly replica's
// whole state, one localStorage entry per device.
//
// Two tabs must never use the same device: each would mint changes under
// the same replica ID and sequence numbers, and nodes keep only the first
// change of each. So a tab takes a Web Lock on a device slot for as long as
// it lives; a second tab takes the next slot, a device of its own with its
// own ID. Where Web Locks are missing (a page not served from localhost or
// over HTTPS), the tab uses slot 0 and the person must keep to one tab.

const PREFIX = "crdtd.device.";
const SLOTS = 8;

/**
 * Claims a device slot. Resolves to {slot, load(), save(state)}: load
 * returns the saved state ("" for none), save replaces it and throws when
 * the browser refuses (storage full or disabled).
 */
export async function claimDevice() {
  let slot = 0;
  if (navigator.locks) {
    slot = -1;
    for (let i = 0; i < SLOTS && slot < 0; i++) {
      // Slot 0 is waited for briefly: on a reload the old page may not have
      // let go of it yet.
      if (await lock(PREFIX + i, i === 0 ? 1500 : 0)) slot = i;
    }
    if (slot < 0) throw new Error("too many tabs have a cart open; close one and reload");
  }
  const key = PREFIX + slot;
  return {
    slot,
    load: () => localStorage.getItem(key) || "",
    save: (state) => localStorage.setItem(key, state),
  };
}

// lock takes the Web Lock name and holds it until the page goes away.
// waitMs 0 gives up at once if another tab holds it.
function lock(name, waitMs) {
  return new Promise((resolve) => {
    const opts = waitMs ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    navigator.locks
      .request(name, opts, (held) => {
        resolve(held !== null);
        return held ? new Promise(() => {}) : undefined;
      })
      .catch(() => resolve(false)); // the wait timed out
  });
}
