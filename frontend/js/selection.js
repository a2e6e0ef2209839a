// Selection: "Select" turns the gallery's photo tiles into toggles (a click, Space or Enter; Shift
// for the range from the last one toggled; Ctrl/Cmd+A for every photo loaded), and a bar says how
// many, with Delete (with Undo, js/deletion.js) and Download (each one's original, one after
// another). Esc or Done leaves. Meanwhile a capturing listener on #gallery takes the tiles' clicks
// before their own listeners, so the lightbox stays shut. What is selected is the tiles'
// aria-pressed, so a tile that leaves the page leaves the selection with it.

import { api } from "./api.js";
import { deleteWithUndo } from "./deletion.js";
import { $, announce, isTyping, showNotice } from "./ui.js";

const DOWNLOADS_AT_ONCE = 50; // more would be a flood of files: the rest stay selected for the next go
const DOWNLOAD_GAP_MS = 300; // between two downloads: each one is started on its own

let selecting = false;
let anchor = null; // the tile last toggled: a Shift+click selects from it
let downloading = false;
const newTiles = new MutationObserver(() => {
  // Tiles that came while selecting (the next page, an upload, a view redrawn) are toggles too.
  photoButtons().forEach(makeToggle);
  showCount();
});

function photoButtons() {
  return [...$("gallery").querySelectorAll("li.tile .tile-button")];
}

const isSelected = (tile) => tile.getAttribute("aria-pressed") === "true";
const selectedTiles = () => photoButtons().filter(isSelected);

function imageOf(tile) {
  // What deletes and downloads need of the photo: its id (the tile's) and name (its image's alt).
  return { id: tile.closest("li.tile").dataset.id, filename: tile.querySelector("img")?.alt || "photo" };
}

function makeToggle(tile) {
  // Named for what it does now: "Open notes.jpg" (gallery.js) reads "Select notes.jpg".
  if (tile.hasAttribute("aria-pressed")) return;
  const label = tile.getAttribute("aria-label") || "";
  tile.dataset.openLabel = label;
  tile.setAttribute("aria-label", `Select ${label.replace(/^Open /, "")}`);
  tile.setAttribute("aria-pressed", "false");
}

function makeOpener(tile) {
  tile.removeAttribute("aria-pressed");
  if (tile.dataset.openLabel != null) tile.setAttribute("aria-label", tile.dataset.openLabel);
  delete tile.dataset.openLabel;
}

function showCount() {
  const count = selectedTiles().length;
  $("selection-count").textContent = `${count} selected`;
  // aria-disabled, not disabled: the focus stays on the button it is on.
  $("selection-delete").setAttribute("aria-disabled", String(count === 0));
  $("selection-download").setAttribute("aria-disabled", String(count === 0 || downloading));
  return count;
}

function select(tiles, chosen) {
  tiles.forEach((tile) => tile.setAttribute("aria-pressed", String(chosen)));
  announce(`${showCount()} selected.`);
}

function toggle(tile, range) {
  const tiles = photoButtons();
  if (range && anchor && anchor !== tile && tiles.includes(anchor)) {
    const [from, to] = [tiles.indexOf(anchor), tiles.indexOf(tile)].sort((a, b) => a - b);
    select(tiles.slice(from, to + 1), true);
  } else {
    select([tile], !isSelected(tile));
  }
  anchor = tile;
}

function startSelecting() {
  if (selecting) return;
  selecting = true;
  $("gallery").toggleAttribute("data-selecting", true);
  photoButtons().forEach(makeToggle);
  newTiles.observe($("gallery"), { childList: true, subtree: true });
  showCount();
  $("selection-bar").hidden = false;
  $("select-start").hidden = true;
  (photoButtons()[0] || $("selection-done")).focus();
  announce("Selecting: Space or a click selects a photo, Shift a range, Ctrl+A all; Esc when done.");
}

export function stopSelecting() {
  // Done, Esc, after a delete, or signed out: the tiles open photos again.
  if (!selecting) return;
  const hadFocus = $("selection-bar").contains(document.activeElement);
  selecting = false;
  anchor = null;
  newTiles.disconnect();
  $("gallery").removeAttribute("data-selecting");
  photoButtons().forEach(makeOpener);
  $("selection-bar").hidden = true;
  $("select-start").hidden = false;
  if (hadFocus) $("select-start").focus();
}

function deleteSelected() {
  const images = selectedTiles().map(imageOf);
  if (!images.length) return;
  stopSelecting();
  deleteWithUndo(images); // the focus: the tile after the last of them
}

const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function startDownload(url) {
  // The API signs the original with Content-Disposition: attachment, so the page stays where it is.
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

async function downloadSelected() {
  // Each photo's original, with URLs signed now, one after another: the first DOWNLOADS_AT_ONCE,
  // which then leave the selection if more are left. Only originals: the API signs them as
  // attachments, where a rendition (inline) would take the page away from here.
  const chosen = selectedTiles();
  const now = chosen.slice(0, DOWNLOADS_AT_ONCE);
  const left = chosen.length - now.length;
  if (!now.length || downloading) return;
  downloading = true;
  showCount();
  announce(`Downloading ${now.length === 1 ? imageOf(now[0]).filename : `${now.length} photos`}.`);
  const failed = [];
  try {
    for (const tile of now) {
      const { id, filename } = imageOf(tile);
      try {
        const image = await api(`/images/${encodeURIComponent(id)}`);
        if (!image.original?.url) throw new Error("no original kept");
        startDownload(image.original.url);
        if (left) tile.setAttribute("aria-pressed", "false");
      } catch (err) {
        if (err.signedOut) return;
        failed.push(`${filename} (${err.message})`);
      }
      await pause(DOWNLOAD_GAP_MS);
    }
  } finally {
    downloading = false;
    if (selecting) showCount();
  }
  const parts = [];
  if (failed.length) parts.push(`Could not download ${failed.join(", ")}.`);
  if (left) parts.push(`${DOWNLOADS_AT_ONCE} at a time: the other ${left} are still selected; Download again for them.`);
  if (parts.length) showNotice(parts.join(" "));
  announce(`Downloaded ${now.length - failed.length} of ${now.length}.${left ? ` ${left} still selected.` : ""}`);
}

export function wireSelection() {
  $("select-start").addEventListener("click", startSelecting);
  $("selection-done").addEventListener("click", stopSelecting);
  $("selection-delete").addEventListener("click", deleteSelected);
  $("selection-download").addEventListener("click", downloadSelected);
  $("gallery").addEventListener("click", (event) => {
    const tile = selecting && event.target.closest(".tile-button");
    if (!tile) return;
    event.preventDefault();
    event.stopPropagation(); // the tile's own listener (open the lightbox) never hears it
    toggle(tile, event.shiftKey);
  }, { capture: true });
  document.addEventListener("keydown", (event) => {
    if (!selecting || isTyping(event.target) || $("viewer").open) return;
    if (event.key === "Escape") {
      event.preventDefault();
      stopSelecting();
    } else if (event.key.toLowerCase() === "a" && (event.ctrlKey || event.metaKey) && !event.shiftKey) {
      event.preventDefault();
      select(photoButtons(), true);
    }
  });
}
