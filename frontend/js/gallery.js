// The gallery: the signed-in person's images page by page, newest first (everyone's, for an
// admin who asks); a tile opens the lightbox (js/lightbox.js) on its photo, whose panel this fills
// with the photo's details and facts, download and delete.

import { api } from "./api.js";
import { config } from "./config.js";
import { closeLightbox, openLightbox } from "./lightbox.js";
import { largestRendition, makePicture, tileSizes } from "./picture.js";
import { isAdmin, signedInEmail } from "./session.js";
import { $, announce, describeError, formatBytes, showNotice } from "./ui.js";

let nextCursor = null;
let galleryLoad = 0; // the latest gallery request; an older answer is dropped
const records = new Map(); // id -> the processed record its tile shows, for the lightbox

function showingAll() {
  return isAdmin() && $("scope-all").checked;
}

function ownerLabel(image) {
  return image.owner || "no one (put straight into storage)";
}

function galleryItem(image) {
  const li = document.createElement("li");
  li.className = "tile";
  li.dataset.id = image.id;
  const by = showingAll() ? `, by ${ownerLabel(image)}` : "";
  if (image.status !== "processed") {
    const text = document.createElement("div");
    text.className = "tile-text";
    text.textContent = image.status === "failed"
      ? `${image.filename}${by}: failed. ${describeError(image.error)}`
      : `${image.filename}${by}: ${image.status}…`;
    li.append(text);
    return li;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile-button";
  button.append(makePicture(image, { alt: image.filename, sizes: tileSizes(image) }).picture);
  button.setAttribute("aria-label", `Open ${image.filename}${by}`);
  button.addEventListener("click", () => openViewer(image.id));
  records.set(image.id, image);
  li.append(button);
  return li;
}

export function addToGallery(image, atTop = false) {
  const gallery = $("gallery");
  gallery.querySelector(`[data-id="${image.id}"]`)?.remove();
  const item = galleryItem(image);
  if (atTop) gallery.prepend(item); else gallery.append(item);
  $("gallery-empty").hidden = true;
}

export async function loadGallery(reset = false) {
  const button = $("load-more");
  const mine = ++galleryLoad;
  button.disabled = true;
  try {
    if (reset) {
      $("gallery").replaceChildren();
      nextCursor = null;
      $("gallery-heading").textContent = showingAll() ? "Everyone’s gallery" : "Gallery";
    }
    const params = new URLSearchParams({ limit: String(config.pageSize) });
    if (showingAll()) params.set("scope", "all");
    if (nextCursor) params.set("cursor", nextCursor);
    const page = await api(`/images?${params}`);
    if (mine !== galleryLoad) return; // signed out, or the view changed meanwhile
    page.items.forEach((image) => addToGallery(image));
    nextCursor = page.nextCursor;
    button.hidden = !nextCursor;
    $("gallery-empty").hidden = $("gallery").children.length > 0;
  } catch (err) {
    if (err.signedOut || mine !== galleryLoad) return;
    showNotice(`The gallery could not be loaded: ${err.message} Reload the page to try again.`);
  } finally {
    if (mine === galleryLoad) button.disabled = false;
  }
}

function formatTakenAt(text) {
  // The camera's own clock, as it read where the photo was taken: shown as written, never
  // converted to this browser's time zone; its UTC offset when the camera recorded one.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?$/.exec(text || "");
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((v) => Number(v || 0));
  const wallClock = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  if (Number.isNaN(wallClock.getTime())) return null;
  const shown = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeStyle: "short", timeZone: "UTC" })
    .format(wallClock);
  const offset = m[7] === "Z" ? "+00:00" : m[7];
  return offset ? `${shown} (UTC${offset})` : shown;
}

function formatNumber(n) {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? String(Number(n.toFixed(1))) : null;
}

function photoFacts(facts) {
  // When and with what the photo was taken: these facts only, each when the API has it.
  const f = facts && typeof facts === "object" ? facts : {};
  const text = (v) => (typeof v === "string" && v.trim() ? v.trim() : null);
  const make = text(f.make);
  const model = text(f.model);
  // "Canon" + "Canon EOS R5" is one camera, not "Canon Canon EOS R5".
  const camera = make && model && !model.toLowerCase().startsWith(make.toLowerCase())
    ? `${make} ${model}` : model || make;
  const fNumber = formatNumber(f.fNumber);
  const focal = formatNumber(f.focalLength);
  const exposure = text(f.exposureTime);
  const rows = [
    ["Taken", formatTakenAt(f.takenAt)],
    ["Camera", camera],
    ["Lens", text(f.lens)],
    ["Aperture", fNumber && `f/${fNumber}`],
    ["Exposure", exposure && `${exposure} s`],
    ["ISO", Number.isInteger(f.iso) && f.iso > 0 ? String(f.iso) : null],
    ["Focal length", focal && `${focal} mm`],
  ];
  return rows.filter(([, value]) => value);
}

function fillList(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
}

function isMine(image) {
  return image.owner ? image.owner.toLowerCase() === signedInEmail().toLowerCase() : !showingAll();
}

function galleryPhotos() {
  // The photos the gallery shows, in its order, each with its tile: what the lightbox steps through.
  return [...$("gallery").children].flatMap((li) => {
    const image = records.get(li.dataset.id);
    const tile = li.querySelector(".tile-button");
    return image && tile && largestRendition(image) ? [{ image, tile }] : [];
  });
}

function openViewer(id) {
  const photos = galleryPhotos();
  openLightbox(photos, photos.findIndex(({ image }) => image.id === id), { describe, remove, refresh });
}

async function refresh(image) {
  // The image's record with URLs signed now: the lightbox's files of it went stale.
  try {
    const fresh = await api(`/images/${image.id}`);
    records.set(fresh.id, fresh);
    return fresh;
  } catch {
    return null;
  }
}

function describe(image) {
  // The lightbox's panel: the file, the photo's facts, download.
  const largest = largestRendition(image);
  $("viewer-title").textContent = image.filename;
  const details = {
    Dimensions: `${image.width}×${image.height}`,
    Size: formatBytes(image.bytes),
    Format: image.format || image.contentType,
    Uploaded: new Date(image.createdAt).toLocaleString(),
  };
  if (showingAll() || !isMine(image)) details.Owner = ownerLabel(image);
  fillList($("viewer-details"), Object.entries(details));
  const facts = photoFacts(image.facts);
  fillList($("viewer-facts"), facts);
  $("viewer-facts-section").hidden = facts.length === 0;
  // The file as it was uploaded when the API offers it (Content-Disposition: attachment), else
  // the largest rendition.
  const download = $("viewer-download");
  const original = image.original && image.original.url;
  download.href = original || (largest ? largest.url : "");
  download.textContent = original ? "Download original" : "Download";
}

async function remove(image) {
  // The gallery holds the person's own images, or every image for an admin: both may delete.
  // Deleted: true, and the lightbox moves on; a failure closes it, to say why on the page.
  const whose = isMine(image) ? "" : `, which belongs to ${ownerLabel(image)}`;
  if (!confirm(`Delete ${image.filename}${whose}? This cannot be undone.`)) return false;
  try {
    await api(`/images/${image.id}`, { method: "DELETE" });
  } catch (err) {
    if (err.signedOut) return false;
    closeLightbox();
    showNotice(`Delete failed: ${err.message}`);
    return false;
  }
  $("gallery").querySelector(`[data-id="${image.id}"]`)?.remove();
  records.delete(image.id);
  $("gallery-empty").hidden = $("gallery").children.length > 0;
  announce(`${image.filename} deleted.`);
  return true;
}

export function clearGallery() {
  // Nothing of one person's gallery (or lightbox) stays on the page for the next one.
  closeLightbox();
  records.clear();
  $("viewer-title").replaceChildren();
  $("viewer-details").replaceChildren();
  $("viewer-facts").replaceChildren();
  $("viewer-download").removeAttribute("href");
  $("gallery").replaceChildren();
  $("gallery-empty").hidden = true;
  $("load-more").hidden = true;
  $("scope-all").checked = false;
  nextCursor = null;
  galleryLoad++;
}

export function wireGallery() {
  $("load-more").addEventListener("click", () => loadGallery());
  $("scope-all").addEventListener("change", () => loadGallery(true));
}
