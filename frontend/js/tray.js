// The upload tray: one sticky summary of the batch ("7 of 10 done · 1 failed", with its overall
// progress) over the list of its files' cards, in the order picked. It collapses by itself when
// the batch is done: a processed file's card leaves the view (its photo is in the gallery), a
// failed one stays with its reason until dismissed. While a file has not reached storage, leaving
// the page asks first. Screen readers hear the batch, not each card: its start, each failure by
// the file's name, and its end. A long upload's card says how much is sent and the time left, and
// the summary the batch's (js/timeleft.js); neither is announced.

import { describeTimeLeft, newPace, notePace, secondsLeft } from "./timeleft.js";
import { $, announce, formatBytes } from "./ui.js";

const FINAL = new Set(["processed", "failed", "duplicate"]); // duplicate: already in the gallery, not sent
const IN_FLIGHT = new Set(["waiting", "uploading"]); // not in storage yet: leaving would lose them
const UPLOAD_SHARE = 0.9; // of a file's bar in the overall progress; the verdict fills the rest
const ANNOUNCE_GAP_MS = 1500; // a polite update replaced sooner may never be read
const NAMES_IN_SUMMARY = 3;
const TIME_LEFT_EVERY_MS = 1000; // a time left rewritten at every progress event would only flicker

let entries = []; // the batch: { file, card, state, reason, sent, pace, shownAt }, in the order picked
let batchPace = newPace(); // the bytes of the whole batch, for its time left
let batchLeft = { text: "", shownAt: 0 }; // the summary's time left
let queued = []; // announcements waiting for the live region to be quiet
let announceTimer = null;
let lastAnnounced = 0;
let warning = false; // beforeunload armed

function counts() {
  const done = entries.filter((e) => e.state === "processed" || e.state === "duplicate").length;
  const failed = entries.filter((e) => e.state === "failed");
  return { total: entries.length, done, failed, running: entries.length - done - failed.length };
}

function summaryText({ total, done, failed }, separator) {
  return `${done} of ${total} done${failed.length ? `${separator}${failed.length} failed` : ""}`;
}

function endOfBatch(c) {
  // One file: the file's own verdict. More: the counts, naming the failures (a failure that ends
  // the batch is said here, not on its own).
  if (c.total === 1) {
    const [only] = entries;
    if (only.state === "duplicate") return `${only.file.name} is already in your gallery.`;
    return only.state === "failed" ? `${only.file.name} failed: ${only.reason}` : `${only.file.name} is processed.`;
  }
  const names = c.failed.map((e) => e.file.name);
  const shown = names.length > NAMES_IN_SUMMARY
    ? `${names.slice(0, NAMES_IN_SUMMARY).join(", ")} and ${names.length - NAMES_IN_SUMMARY} more`
    : names.join(", ");
  return `${summaryText(c, ", ")}${shown ? `: ${shown}` : ""}.`;
}

function say(text) {
  // Spaced updates: what comes within the gap is said together once it ends, never dropped.
  queued.push(text);
  if (announceTimer) return;
  const wait = Math.max(0, lastAnnounced + ANNOUNCE_GAP_MS - Date.now());
  announceTimer = setTimeout(() => {
    announce(queued.join(" "));
    queued = [];
    announceTimer = null;
    lastAnnounced = Date.now();
  }, wait);
}

function warnBeforeLeaving(event) {
  event.preventDefault();
  event.returnValue = ""; // older browsers ask only when this is set
}

function armLeaveWarning(armed) {
  // Only while needed: a page with a beforeunload handler is kept out of the back-forward cache.
  if (armed === warning) return;
  warning = armed;
  if (armed) window.addEventListener("beforeunload", warnBeforeLeaving);
  else window.removeEventListener("beforeunload", warnBeforeLeaving);
}

function setExpanded(expanded) {
  $("tray-toggle").setAttribute("aria-expanded", String(expanded));
  $("uploads").toggleAttribute("data-collapsed", !expanded);
}

function render() {
  const c = counts();
  const list = $("uploads");
  $("tray").hidden = c.total === 0;
  const left = entries.some((e) => IN_FLIGHT.has(e.state)) ? batchLeft.text : "";
  $("tray-summary").textContent = summaryText(c, " · ") + (left ? ` · ${left}` : "");
  const progress = $("tray-progress");
  progress.hidden = c.running === 0;
  const share = entries.reduce((sum, e) => sum + (FINAL.has(e.state) ? 1 : e.sent * UPLOAD_SHARE), 0);
  progress.value = c.total ? Math.round((share / c.total) * 100) : 0;
  $("tray-clear").hidden = c.running > 0;
  // Collapsed, the list shows only what still needs a look (running or failed); empty, it goes.
  const collapsed = list.hasAttribute("data-collapsed");
  list.hidden = !list.querySelector(collapsed ? ".card:not([data-state=processed])" : ".card:not([hidden])");
  armLeaveWarning(entries.some((e) => IN_FLIGHT.has(e.state)));
}

function makeCard(file) {
  const li = document.createElement("li");
  li.className = "card";
  li.innerHTML = `
    <div class="card-body">
      <strong class="name"></strong> <span class="size"></span>
      <progress max="100" value="0"></progress>
      <p class="state"></p>
      <div class="card-actions"></div>
    </div>`;
  li.querySelector(".name").textContent = file.name;
  li.querySelector(".size").textContent = formatBytes(file.size);
  li.querySelector("progress").setAttribute("aria-label", `Upload progress for ${file.name}`);
  return li;
}

export function addToTray(files) {
  // A pick while the last batch is still going joins it; after it, a new batch begins.
  const joining = counts().running > 0;
  if (!joining) forgetBatch();
  const added = [...files].map((file) => (
    { file, card: makeCard(file), state: "", reason: "", sent: 0, pace: newPace(), shownAt: 0 }));
  entries.push(...added);
  $("uploads").append(...added.map((e) => e.card));
  added.forEach((e) => setEntryState(e, "waiting", "Waiting…"));
  setExpanded(true);
  const what = added.length === 1 ? added[0].file.name : `${added.length} photos`;
  say(joining ? `Also uploading ${what}; ${entries.length} in all.` : `Uploading ${what}.`);
  render();
  return added;
}

export function setEntryState(entry, state, text, reason = "") {
  if (!entries.includes(entry)) return; // its batch was cleared (signed out) while it ran
  const wasFinal = FINAL.has(entry.state);
  entry.state = state;
  entry.reason = reason;
  entry.card.dataset.state = state;
  entry.card.querySelector(".state").textContent = text;
  entry.card.querySelector(".dismiss")?.remove();
  if (state === "failed" || state === "duplicate") offerDismiss(entry);
  if (FINAL.has(state) && !wasFinal) {
    const c = counts();
    if (c.running === 0) {
      setExpanded(false);
      say(endOfBatch(c));
    } else if (state === "failed") {
      say(`${entry.file.name} failed: ${reason}`);
    }
  }
  render();
}

export function setEntrySent(entry, fraction) {
  if (!entries.includes(entry)) return;
  if (fraction === 0) entry.pace = newPace(); // (again: a retry) the pace of this attempt only
  entry.sent = fraction;
  entry.card.querySelector("progress").value = Math.round(fraction * 100);
  if (fraction > 0 && fraction < 1) {
    const now = performance.now();
    notePace(entry.pace, now, fraction * entry.file.size);
    notePace(batchPace, now, entries.reduce((sum, e) => sum + e.sent * e.file.size, 0));
    showTimeLeft(entry, now);
  }
  render();
}

function sentOfTotal(sent, total) {
  // "2.1 of 8.0 MB": the unit once when both have it.
  const whole = formatBytes(total);
  const unit = whole.slice(whole.indexOf(" "));
  const part = formatBytes(Math.round(sent));
  return `${part.endsWith(unit) ? part.slice(0, -unit.length) : part} of ${whole}`;
}

function showTimeLeft(entry, now) {
  // The card's, then the batch's; each rewritten at most every TIME_LEFT_EVERY_MS.
  const { file } = entry;
  const left = secondsLeft(entry.pace, (1 - entry.sent) * file.size);
  if (entry.state === "uploading" && left !== null && now - entry.shownAt >= TIME_LEFT_EVERY_MS) {
    entry.shownAt = now;
    entry.card.querySelector(".state").textContent =
      `${sentOfTotal(entry.sent * file.size, file.size)} · ${describeTimeLeft(left)}`;
  }
  if (now - batchLeft.shownAt >= TIME_LEFT_EVERY_MS) {
    const bytesLeft = entries.reduce((sum, e) => sum + (IN_FLIGHT.has(e.state) ? (1 - e.sent) * e.file.size : 0), 0);
    batchLeft = { text: describeTimeLeft(secondsLeft(batchPace, bytesLeft)), shownAt: now };
  }
}

function offerDismiss(entry) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button secondary dismiss";
  button.textContent = "Dismiss";
  button.setAttribute("aria-label", `Dismiss ${entry.file.name}`);
  button.addEventListener("click", () => {
    // Focus goes on to the next card's action, else back to the tray's summary.
    const cards = [...$("uploads").querySelectorAll(".card")];
    const after = cards.slice(cards.indexOf(entry.card) + 1).concat(cards.slice(0, cards.indexOf(entry.card)));
    const next = after.map((c) => c.querySelector("button")).find((b) => b && b.checkVisibility());
    entry.card.remove();
    render();
    (next || $("tray-toggle")).focus();
  });
  entry.card.querySelector(".card-actions").append(button);
}

function followGallery() {
  // A processed card shows while its photo is in the gallery: hidden when the photo leaves it
  // (deleted, or another view), back again when it returns (Undo, the view again).
  for (const card of $("uploads").querySelectorAll(".card[data-state=processed]")) {
    card.hidden = !$("gallery").querySelector(`[data-id="${CSS.escape(card.dataset.id || "")}"]`);
  }
  render();
}

function keepBarsClear() {
  // The selection and Undo bars stand above the tray where the two would meet (style.css reads
  // --tray-clearance): the tray's visible height from the bottom of the window.
  const dock = $("tray-dock");
  const shown = [...dock.children].filter((el) => el.checkVisibility());
  const top = Math.min(...shown.map((el) => el.getBoundingClientRect().top));
  const clearance = shown.length ? Math.max(0, window.innerHeight - top) : 0;
  document.documentElement.style.setProperty("--tray-clearance", `${Math.ceil(clearance)}px`);
}

function forgetBatch() {
  entries = [];
  batchPace = newPace();
  batchLeft = { text: "", shownAt: 0 };
  $("uploads").replaceChildren();
}

export function clearTray() {
  forgetBatch();
  queued = []; // nothing of this batch is said after it is gone (signed out, cleared)
  clearTimeout(announceTimer);
  announceTimer = null;
  render();
}

export function wireTray() {
  $("tray-toggle").addEventListener("click", () => {
    setExpanded($("tray-toggle").getAttribute("aria-expanded") !== "true");
    render();
  });
  $("tray-clear").addEventListener("click", () => {
    clearTray();
    $("upload-heading").focus();
  });
  new MutationObserver(followGallery).observe($("gallery"), { childList: true, subtree: true }); // tiles are in day groups
  const watchTray = new ResizeObserver(keepBarsClear);
  [...$("tray-dock").children].forEach((el) => watchTray.observe(el));
  window.addEventListener("resize", keepBarsClear);
}
