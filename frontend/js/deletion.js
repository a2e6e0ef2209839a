// Deletes that wait for Undo: the photos leave the gallery at once and a bar says "Deleted
// notes.jpg. [Undo]" for a few seconds (index.html's data-undo-ms); only then are the DELETE
// requests sent, so Undo puts back what was never deleted. A page left meanwhile (pagehide) or a
// session that ends sends them there and then (keepalive); a DELETE that fails puts its tile back
// and says why. One batch waits at a time: a new delete sends the one before it.

import { api, sendAsThePageLeaves } from "./api.js";
import { epoch, session } from "./session.js";
import { $, announce, isTyping, showNotice } from "./ui.js";

const PARALLEL = 4; // DELETE requests in flight at once
const DEFAULT_UNDO_MS = 8000; // when index.html does not say

// The batch whose Undo is on offer: { items: [{ image, tile, marker }], name, token, epoch, timer }.
// A tile waiting for its delete is off the page, a comment where it was: Undo puts it back there.
let waiting = null;
let home = null; // where the bar lives when the lightbox is not open

const imagePath = (id) => `/images/${encodeURIComponent(id)}`;

function tileOf(id) {
  return $("gallery").querySelector(`li.tile[data-id="${CSS.escape(id)}"]`);
}

function focusableIn(li) {
  return li.querySelector("button, summary, a[href], [tabindex]");
}

export function nextFocus(leaving) {
  // Where the focus goes when these tiles leave (asked before they do): the next tile shown after
  // the last of them, else the nearest one staying before it, else the gallery's heading.
  const shown = [...$("gallery").querySelectorAll("li.tile")].filter((li) => li.checkVisibility());
  const last = Math.max(-1, ...leaving.map((li) => shown.indexOf(li)));
  const near = [...shown.slice(last + 1), ...shown.slice(0, last + 1).reverse()];
  return near.filter((li) => !leaving.includes(li)).map(focusableIn).find(Boolean) || $("gallery-heading");
}

function showEmpty() {
  $("gallery-empty").hidden = Boolean($("gallery").querySelector("li.tile"));
}

function putBack(item) {
  // Where it was, unless the gallery has been redrawn since (its listing has the photo again).
  if (item.marker?.isConnected) item.marker.replaceWith(item.tile);
  showEmpty();
}

function showBar(text) {
  // Inside the lightbox while it is open: the modal dialog keeps the rest of the page out of reach.
  const bar = $("undo-bar");
  $("undo-text").textContent = text;
  ($("viewer").open ? $("viewer") : home).append(bar);
  bar.hidden = false;
}

function hideBar() {
  const bar = $("undo-bar");
  const hadFocus = bar.contains(document.activeElement);
  bar.hidden = true;
  home.append(bar);
  return hadFocus;
}

function delay() {
  const ms = Number($("undo-bar").dataset.undoMs);
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_UNDO_MS;
}

function startTimer(batch, ms) {
  clearTimeout(batch.timer);
  batch.timer = setTimeout(() => send(batch), ms);
}

export function deleteWithUndo(images, { name, moveFocus = true } = {}) {
  // images: records ({ id, filename }) whose tiles leave now; name: how the bar says them.
  if (!images.length || !session) return;
  sendWaitingDeletes({ leaving: false });
  const items = images.map((image) => ({ image, tile: tileOf(image.id), marker: null }));
  const tiles = items.map((item) => item.tile).filter(Boolean);
  const focus = moveFocus ? nextFocus(tiles) : null;
  for (const item of items) {
    if (!item.tile) continue;
    item.marker = document.createComment(` deleting ${item.image.id} `);
    item.tile.replaceWith(item.marker);
  }
  showEmpty();
  const said = name || (images.length === 1 ? images[0].filename : `${images.length} photos`);
  waiting = { items, name: said, token: session.idToken, epoch, timer: null };
  startTimer(waiting, delay());
  showBar(`Deleted ${said}.`);
  announce(`Deleted ${said}. Undo with Ctrl+Z.`);
  focus?.focus();
}

function undoDelete() {
  const batch = waiting;
  if (!batch) return;
  clearTimeout(batch.timer);
  waiting = null;
  const hadFocus = hideBar();
  batch.items.forEach(putBack);
  announce(`Restored ${batch.name}.`);
  // The Undo button is gone: the focus goes to the first photo back (the lightbox, if open, keeps it).
  const back = batch.items.find((item) => item.tile.isConnected);
  if (hadFocus && back && !$("viewer").open) focusableIn(back.tile)?.focus();
}

async function send(batch) {
  // The delay is over: each DELETE, a few at a time; a refusal puts its tile back, with why.
  clearTimeout(batch.timer);
  if (waiting === batch) {
    waiting = null;
    hideBar(); // never with the focus in it: the focus there holds the delay back
  }
  const queue = [...batch.items];
  const failures = [];
  let signedOut = false;
  const worker = async () => {
    for (let item = queue.shift(); item && !signedOut; item = queue.shift()) {
      try {
        await api(imagePath(item.image.id), { method: "DELETE" });
      } catch (err) {
        if (err.signedOut) signedOut = true;
        else if (err.status !== 404) failures.push({ item, err }); // 404: gone already
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (signedOut || batch.epoch !== epoch) return; // the page is another session's now
  document.dispatchEvent(new CustomEvent("imagepipe:deleted")); // the admin's counts change (js/adminfilters.js)
  const failed = new Set(failures.map(({ item }) => item));
  // A listing redrawn meanwhile (another view) may show a deleted photo again.
  batch.items.filter((item) => !failed.has(item)).forEach((item) => tileOf(item.image.id)?.remove());
  failures.forEach(({ item }) => putBack(item));
  showEmpty();
  if (failures.length) {
    const { item, err } = failures[0];
    const what = failures.length === 1 ? item.image.filename : `${failures.length} photos`;
    showNotice(`${what} could not be deleted, and ${failures.length === 1 ? "is" : "are"} back in the gallery: ${err.message}`);
  }
}

export function sendWaitingDeletes({ leaving = true } = {}) {
  // The batch waiting for its delay, sent now: on a new delete (as usual), or as the page or the
  // session goes (leaving: keepalive requests with the token of the person who deleted, whoever
  // is signed in next; nothing on the page changes).
  const batch = waiting;
  if (!batch) return;
  if (!leaving) {
    send(batch);
    return;
  }
  clearTimeout(batch.timer);
  waiting = null;
  hideBar();
  batch.items.forEach((item) => sendAsThePageLeaves(imagePath(item.image.id), { method: "DELETE" }, batch.token));
}

export function wireDeletes() {
  const bar = $("undo-bar");
  home = bar.parentElement;
  $("undo").addEventListener("click", undoDelete);
  // Time to read and reach it: the delay starts again when the focus leaves the bar.
  bar.addEventListener("focusin", () => waiting && clearTimeout(waiting.timer));
  bar.addEventListener("focusout", (event) => {
    if (waiting && !bar.contains(event.relatedTarget)) startTimer(waiting, delay());
  });
  document.addEventListener("keydown", (event) => {
    if (!waiting || event.key.toLowerCase() !== "z" || !(event.ctrlKey || event.metaKey) || event.shiftKey) return;
    if (isTyping(event.target)) return;
    event.preventDefault();
    undoDelete();
  });
  $("viewer").addEventListener("close", () => {
    if (bar.parentElement !== home) home.append(bar);
  });
  window.addEventListener("pagehide", () => sendWaitingDeletes());
}
