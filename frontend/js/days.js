// Days: the gallery's tiles grouped under a heading for each day, newest day first. #gallery holds
// one group per day, in order:
//   <div class="day" data-day="2019-06-01">
//     <h3 class="day-heading" id="day-2019-06-01"><time datetime="2019-06-01">Saturday, June 1, 2019</time></h3>
//     <ul class="day-tiles" aria-labelledby="day-2019-06-01"><li class="tile" data-id="…">…</li>…</ul>
//   </div>
// The API says each photo's day (the day it was taken, else its upload's UTC date: one rule, on
// the server) and lists a person's photos in that order, so the page only puts each tile in its
// day's group, in the order it comes. A group whose tiles are all gone or hidden (deleted, waiting
// for Undo, dismissed) hides with them; one with nothing left at all goes.

import { $ } from "./ui.js";

// The day as its heading says it: a calendar date, never converted to this browser's time zone.
const HEADING = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeZone: "UTC" });
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function todayUtc() {
  // A new upload's day until it is processed: the day the server will give it if its photo says
  // no other (the upload's UTC date).
  return new Date().toISOString().slice(0, 10);
}

function dayLabel(day) {
  const m = DAY.exec(day);
  const date = m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date && !Number.isNaN(date.getTime()) ? HEADING.format(date) : day;
}

function groupOf(day) {
  // The day's group, made in its place (before the first older day) if it is not there yet.
  const gallery = $("gallery");
  const groups = [...gallery.children];
  const found = groups.find((group) => group.dataset.day === day);
  if (found) return found;
  const group = document.createElement("div");
  group.className = "day";
  group.dataset.day = day;
  const heading = document.createElement("h3");
  heading.className = "day-heading";
  heading.id = `day-${day}`;
  const time = document.createElement("time");
  time.dateTime = day;
  time.textContent = dayLabel(day);
  heading.append(time);
  const list = document.createElement("ul");
  list.className = "day-tiles";
  list.setAttribute("aria-labelledby", heading.id);
  group.append(heading, list);
  gallery.insertBefore(group, groups.find((other) => other.dataset.day < day) || null);
  return group;
}

export function placeTile(li, day, first = false) {
  // Into its day's list: first (a new upload: the newest of its day) or last (the listing's order).
  const list = groupOf(day).querySelector(".day-tiles");
  if (first) list.prepend(li); else list.append(li);
}

export function dayOfTile(li) {
  return li.closest(".day")?.dataset.day;
}

export function allTiles() {
  // Every tile, in the order shown: what the lightbox steps through.
  return [...$("gallery").querySelectorAll("li.tile")];
}

function tidyDays() {
  // Run after any change in the gallery: a day with no tile left to show hides (a tile waiting for
  // its Undo leaves a marker behind: its group stays for it), and one with nothing left goes.
  for (const group of $("gallery").querySelectorAll(":scope > .day")) {
    const list = group.querySelector(".day-tiles");
    if (!list.hasChildNodes()) {
      group.remove();
      continue;
    }
    const shown = [...list.children].some((li) => getComputedStyle(li).display !== "none");
    if (group.hidden === shown) group.hidden = !shown;
  }
}

export function wireDays() {
  // Tiles come and go (uploads, pages, deletes), and hide (dismissed, "Hide failed").
  new MutationObserver(tidyDays).observe($("gallery"), {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-dismissed", "data-hide-failed", "data-status-filter", "hidden"],
  });
}
