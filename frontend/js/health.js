// The Health view, for admins: the stack's alarms, the last hour's photos (refused by code), how
// long an upload takes to reach the gallery, and the oldest unfinished upload, from GET
// /admin/health. Opened from the account bar; read again with Refresh. The API answers 403 to
// anyone else, so the button is only a convenience: it is shown to members of `admins` only.

import { api } from "./api.js";
import { $ } from "./ui.js";

// Each state in words, never by colour alone.
const STATE_WORDS = { OK: "OK", ALARM: "In alarm", INSUFFICIENT_DATA: "Not enough data" };

let healthLoad = 0; // the latest request; an older answer is dropped

function cell(text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function formatTime(iso) {
  const when = iso ? new Date(iso) : null;
  return when && !Number.isNaN(when.getTime()) ? when.toLocaleString() : "unknown";
}

function formatAge(seconds) {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function formatWait(ms) {
  return ms == null ? "no photos in the hour" : `${(ms / 1000).toFixed(1)} s`;
}

function showAlarms(alarms) {
  const firing = alarms.filter((a) => a.state === "ALARM").length;
  $("health-alarms-caption").textContent = alarms.length
    ? `Alarms: ${firing} of ${alarms.length} in alarm`
    : "Alarms: none found for this stack";
  $("health-alarms-body").replaceChildren(...alarms.map((alarm) => {
    const row = document.createElement("tr");
    const name = cell(alarm.name, "th");
    name.scope = "row";
    const state = cell(STATE_WORDS[alarm.state] || alarm.state);
    state.className = "health-state";
    state.dataset.state = alarm.state;
    row.append(name, state, cell(formatTime(alarm.since)), cell(alarm.reason || "—"));
    return row;
  }));
}

function refusedByCode(counts) {
  const codes = Object.keys(counts).sort();
  if (!codes.length) return "none";
  const list = document.createElement("ul");
  list.className = "health-codes";
  list.append(...codes.map((code) => cell(`${code}: ${counts[code]}`, "li")));
  return list;
}

function showFigures(report) {
  const oldest = report.oldestUnfinished;
  const rows = [
    ["Photos processed", String(report.photos.processed)],
    ["Photos refused", String(report.photos.refused)],
    ["Refused, by code", refusedByCode(report.photos.refusedByCode)],
    ["Upload to gallery, median (p50)", formatWait(report.uploadToReadyMs.p50)],
    ["Upload to gallery, 95th percentile (p95)", formatWait(report.uploadToReadyMs.p95)],
    ["Oldest unfinished upload", oldest ? `${oldest.id} (${oldest.status}, ${formatAge(oldest.ageSeconds)} old)` : "none"],
  ];
  $("health-figures").replaceChildren(...rows.flatMap(([term, value]) => {
    const dd = document.createElement("dd");
    dd.append(value);
    return [cell(term, "dt"), dd];
  }));
}

function showError(text) {
  $("health-error").textContent = text;
  $("health-error").hidden = !text;
}

async function loadHealth() {
  const mine = ++healthLoad;
  const section = $("health");
  $("health-refresh").disabled = true;
  section.setAttribute("aria-busy", "true");
  try {
    const report = await api("/admin/health");
    if (mine !== healthLoad) return; // closed, or signed out, meanwhile
    showError("");
    showAlarms(report.alarms);
    showFigures(report);
    $("health-updated").textContent =
      `Read at ${formatTime(report.generatedAt)}; the last hour is ${formatTime(report.window.start)} to ${formatTime(report.window.end)}.`;
    $("health-report").hidden = false;
  } catch (err) {
    if (err.signedOut || mine !== healthLoad) return;
    showError(`The health report could not be read: ${err.message}`);
  } finally {
    if (mine === healthLoad) {
      $("health-refresh").disabled = false;
      section.removeAttribute("aria-busy");
    }
  }
}

function setOpen(open) {
  $("health").hidden = !open;
  $("health-toggle").setAttribute("aria-expanded", String(open));
}

export function clearHealth() {
  // Closed and emptied: nothing of it stays for the next person, and a late answer is dropped.
  healthLoad++;
  setOpen(false);
  showError("");
  $("health-report").hidden = true;
  $("health-alarms-body").replaceChildren();
  $("health-figures").replaceChildren();
  $("health-updated").textContent = "";
  $("health-refresh").disabled = false;
  $("health").removeAttribute("aria-busy");
}

export function showHealthControl(admin) {
  $("health-toggle").hidden = !admin;
  if (!admin) clearHealth();
}

export function wireHealth() {
  $("health-toggle").addEventListener("click", () => {
    if (!$("health").hidden) {
      clearHealth();
      return;
    }
    setOpen(true);
    $("health-heading").focus();
    loadHealth();
  });
  $("health-refresh").addEventListener("click", loadHealth);
}
