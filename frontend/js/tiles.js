// A failed upload's tile, the size of a photo's: "Couldn't process", the file's name, the reason on
// demand, Delete (with Undo, js/deletion.js) and Dismiss (no longer shown to this person here).
// "Hide failed" hides every failed tile. Both are remembered in this browser per person (keyed by
// the user pool's sub), so the next person to sign in here gets their own.

import { deleteWithUndo, nextFocus } from "./deletion.js";
import { session } from "./session.js";
import { $, announce, describeError } from "./ui.js";

const DISMISSED_KEY = "imagepipe.dismissedFailed"; // .<sub>: the ids dismissed, the latest last
const HIDE_FAILED_KEY = "imagepipe.hideFailed"; // .<sub>: true while failed tiles are hidden
const DISMISSED_KEPT = 500; // older dismissals are forgotten: their tiles show again

function personal(key) {
  const sub = session?.claims.sub;
  return sub ? `${key}.${sub}` : null;
}

function readStored(key, fallback) {
  try {
    const stored = key && localStorage.getItem(key);
    return stored == null ? fallback : JSON.parse(stored);
  } catch {
    return fallback; // unreadable, or storage unavailable
  }
}

function writeStored(key, value) {
  try {
    if (key) localStorage.setItem(key, JSON.stringify(value));
  } catch { /* storage unavailable: for this page only */ }
}

function dismissedIds() {
  const ids = readStored(personal(DISMISSED_KEY), []);
  return Array.isArray(ids) ? ids : [];
}

function rememberDismissed(id) {
  const ids = dismissedIds().filter((kept) => kept !== id);
  ids.push(id);
  writeStored(personal(DISMISSED_KEY), ids.slice(-DISMISSED_KEPT));
}

function button(text, label, onClick) {
  const made = document.createElement("button");
  made.type = "button";
  made.className = "button secondary";
  made.textContent = text;
  made.setAttribute("aria-label", label);
  made.addEventListener("click", onClick);
  return made;
}

export function failedTile(image, { by = "" } = {}) {
  // The contents of the image's li.tile: style.css hides the tile once dismissed, or with "Hide failed".
  const name = `${image.filename}${by}`;
  const box = document.createElement("div");
  box.className = "failed-tile";
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", `Couldn't process ${name}`);
  if (dismissedIds().includes(image.id)) box.dataset.dismissed = "";

  const title = document.createElement("p");
  title.className = "failed-title";
  title.textContent = "Couldn't process";
  const file = document.createElement("p");
  file.className = "failed-name";
  file.textContent = name;
  file.title = name; // cut short to fit: whole on hover

  const reason = document.createElement("details");
  reason.className = "failed-reason";
  const summary = document.createElement("summary");
  summary.textContent = "Why?";
  summary.setAttribute("aria-label", `Why ${image.filename} failed`);
  const why = document.createElement("p");
  why.textContent = describeError(image.error);
  reason.append(summary, why);

  const actions = document.createElement("div");
  actions.className = "failed-actions";
  actions.append(
    button("Delete", `Delete failed ${name}`, () => deleteWithUndo([image])),
    button("Dismiss", `Dismiss failed ${name}`, () => {
      const focus = nextFocus([box.closest("li.tile")]);
      rememberDismissed(image.id);
      box.dataset.dismissed = "";
      announce(`${image.filename} dismissed: it no longer shows here.`);
      focus.focus();
    }),
  );
  box.append(title, file, reason, actions);
  return box;
}

function showHideFailed(hide) {
  $("hide-failed").checked = hide;
  $("gallery").toggleAttribute("data-hide-failed", hide);
}

export function restoreFailedChoice() {
  // Signed in: this person's own "Hide failed".
  showHideFailed(readStored(personal(HIDE_FAILED_KEY), false) === true);
}

export function clearFailedChoice() {
  showHideFailed(false);
}

export function wireTiles() {
  $("hide-failed").addEventListener("change", (event) => {
    const hide = event.target.checked;
    writeStored(personal(HIDE_FAILED_KEY), hide);
    showHideFailed(hide);
    announce(hide ? "Failed uploads hidden." : "Failed uploads shown.");
  });
}
