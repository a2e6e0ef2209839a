// The gallery: the signed-in person's images page by page, newest first, under a heading for each
// day (js/days.js; everyone's, by upload day, for an admin who asks, filtered by status and owner:
// js/adminfilters.js); the next page loads as the "Load more" button scrolls into view. A new upload holds its tile from the moment it is picked
// (reserveTile), a tile the size of a photo's that fills in place. A tile opens the lightbox
// (js/lightbox.js) on its photo, whose panel this fills with the photo's details and facts,
// download and delete; a photo with look-alikes has a button that offers to keep one (js/lookalikes.js).
// Everyone's gallery follows everyone's image events (js/live.js): a tile turns processed or
// failed, or goes, when the stack says so, and a new photo comes in at the top.

import { adminFilters, filterByOwner, ownerFiltered, showAdminFilters, wireAdminFilters } from "./adminfilters.js";
import { api } from "./api.js";
import { config } from "./config.js";
import { allTiles, dayOfTile, placeTile, todayUtc, wireDays } from "./days.js";
import { deleteWithUndo } from "./deletion.js";
import { photoFacts } from "./facts.js";
import { closeLightbox, openLightbox } from "./lightbox.js";
import { watchEveryone } from "./live.js";
import { forgetLookalikes, wireLookalikes } from "./lookalikes.js";
import { largestRendition, makePicture, tileSizes } from "./picture.js";
import { isAdmin, signedInEmail } from "./session.js";
import { withPlaceholders } from "./skeleton.js";
import { failedTile } from "./tiles.js";
import { $, formatBytes, showNotice } from "./ui.js";

let nextCursor = null;
let galleryLoad = 0; // the latest gallery request; an older answer is dropped
let loadingOnScroll = null; // the IntersectionObserver on "Load more"
let loadMoreInView = false; // what it said last
let shortPages = 0; // filtered pages in a row that came back short, each followed at once
// A filtered page may come back short, even empty (the API reads a few times its size at most): the
// next one follows without a scroll, this many in a row at most; then "Load more" and the scroll.
const SHORT_PAGES_FOLLOWED = 5;
const HIGHLIGHT_MS = 4000; // how long a photo picked again stays marked in the gallery
const records = new Map(); // id -> the processed record its tile shows, for the lightbox
let view = 0; // the gallery shown (a new one at each reset): a record read for an older one is dropped
const TOLD = ["Image Processed", "Image Failed"]; // events that bring an unlisted photo in

function showingAll() {
  return isAdmin() && $("scope-all").checked;
}

function ownerLabel(image) {
  return image.owner || "no one (put straight into storage)";
}

function ownerOnTile(image) {
  // Everyone's photos: whose each one is, written on its tile; a button that shows only theirs (a
  // file put straight into storage has no one's to show).
  if (!image.ownerId) {
    const label = document.createElement("span");
    label.className = "tile-owner";
    label.textContent = ownerLabel(image);
    return label;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile-owner";
  button.textContent = ownerLabel(image);
  button.setAttribute("aria-label", `Show only ${ownerLabel(image)}’s photos`);
  button.addEventListener("click", () => filterByOwner(image.ownerId, image.owner));
  return button;
}

function galleryItem(image) {
  const li = document.createElement("li");
  li.className = "tile";
  li.dataset.id = image.id;
  if (image.updatedAt) li.dataset.updatedAt = image.updatedAt;
  const by = showingAll() ? `, by ${ownerLabel(image)}` : "";
  if (by && "ownerId" in image) li.append(ownerOnTile(image)); // (not an upload that failed before its record)
  if (image.status !== "processed") {
    if (image.status === "failed") {
      li.prepend(failedTile(image, { by }));
      return li;
    }
    li.prepend(waitingBox(`${image.filename}${by}`, `${image.status}…`));
    return li;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile-button";
  button.append(makePicture(image, { alt: image.filename, sizes: tileSizes(image) }).picture);
  button.setAttribute("aria-label", `Open ${image.filename}${by}`); // whose: said in its name too
  button.addEventListener("click", () => openViewer(image.id));
  records.set(image.id, image);
  li.prepend(button);
  return li;
}

function waitingBox(name, state) {
  // A tile still to come: neutral, the size of a photo's, its file's name and (for screen readers) why.
  const box = document.createElement("div");
  box.className = "tile-waiting";
  const said = document.createElement("span");
  said.className = "visually-hidden";
  said.textContent = `: ${state}`;
  const text = document.createElement("span");
  text.className = "tile-waiting-name";
  text.append(name, said);
  box.append(text);
  return box;
}

function tileOf(id) {
  return id ? $("gallery").querySelector(`li.tile[data-id="${CSS.escape(id)}"]`) : null;
}

function dayOf(image) {
  // The day the tile is listed under: the photo's (the API's rule) in a person's own gallery (and
  // in one person's, filtered by an admin), the upload's UTC date in everyone's, which is listed by
  // upload time.
  const uploaded = (image.createdAt || "").slice(0, 10) || todayUtc();
  return showingAll() && !ownerFiltered() ? uploaded : image.day || uploaded;
}

function fitsTheFilters(image) {
  // An admin's own upload, finished while everyone's photos are filtered, shows only if it fits.
  const { status, owner } = showingAll() ? adminFilters() : {};
  return (!status || image.status === status) && (!owner || image.ownerId === owner);
}

export function addToGallery(image, atTop = false) {
  // The image's tile: in place of the one it has (its upload's, or an older state) while the day is
  // the same, so nothing around it moves; else first (atTop) or last in its day's group.
  if (!fitsTheFilters(image)) {
    tileOf(image.id)?.remove();
    return;
  }
  const shown = tileOf(image.id);
  // A listing read before an event's record came back after it: the older state stays out.
  if (shown?.dataset.updatedAt && image.updatedAt && shown.dataset.updatedAt > image.updatedAt) return;
  const item = galleryItem(image);
  const day = dayOf(image);
  if (shown && dayOfTile(shown) === day) {
    shown.replaceWith(item);
  } else {
    shown?.remove(); // a photo taken on another day than its upload's moves there (rare)
    placeTile(item, day, atTop);
  }
  $("gallery-empty").hidden = true;
}

export function reserveTile(filename, replacing = null) {
  // A photo just picked: its tile at once, first in today's group (its day until it is processed),
  // or in place of `replacing` (its failed tile, tried again). Returns the tile: claimTile names it
  // with the image's id, and addToGallery (processed, failed) or failTile fills it in place.
  const li = document.createElement("li");
  li.className = "tile";
  li.dataset.id = localId();
  li.append(waitingBox(filename, "uploading…"));
  if (replacing?.isConnected) replacing.replaceWith(li); else placeTile(li, todayUtc(), true);
  $("gallery-empty").hidden = true;
  return li;
}

function localId() {
  // A tile with no record (yet): never an image id (32 hex digits), nor one used before (a
  // dismissed tile's id is remembered). Not crypto.randomUUID: a page over plain HTTP lacks it.
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `local-${Date.now().toString(36)}-${[...random].map((n) => n.toString(36)).join("")}`;
}

export function claimTile(li, id) {
  // The upload has its record: its tile is the image's (a listing that has it meanwhile gave it one).
  const other = tileOf(id);
  if (other && other !== li) other.remove();
  li.dataset.id = id;
}

export function showExisting(id) {
  // A photo the person picked again (js/upload.js): its tile, if shown, scrolled to and marked a
  // moment (style.css: .tile.already). True if the gallery shows it.
  const tile = tileOf(id);
  if (!tile) return false;
  tile.scrollIntoView({ block: "center", behavior: "smooth" });
  tile.classList.add("already");
  setTimeout(() => tile.classList.remove("already"), HIGHLIGHT_MS);
  return true;
}

export function failTile(li, filename, reason) {
  // The upload failed before it had a verdict: its tile becomes a failed tile, in place.
  if (!li?.isConnected) return;
  li.replaceWith(galleryItem({ id: li.dataset.id, filename, status: "failed", error: { message: reason } }));
}

export async function loadGallery(reset = false) {
  const button = $("load-more");
  const mine = ++galleryLoad;
  const filters = showingAll() ? adminFilters() : {};
  let followOn = false;
  button.disabled = true;
  try {
    if (reset) {
      view++;
      if (!showingAll()) showAdminFilters(false);
      watchEveryone(showingAll() ? { heard: heardOfAnImage, opened: catchUp } : null);
      $("gallery").replaceChildren();
      forgetLookalikes();
      nextCursor = null;
      shortPages = 0;
      $("gallery-heading").textContent = showingAll() ? "Everyone’s gallery" : "Gallery";
      $("gallery-empty").textContent = Object.keys(filters).length ? "No photos match these filters." : "No images yet.";
    }
    const params = new URLSearchParams({ limit: String(config.pageSize), ...filters });
    if (showingAll()) params.set("scope", "all");
    if (nextCursor) params.set("cursor", nextCursor);
    const page = await withPlaceholders(api(`/images?${params}`), reset);
    if (mine !== galleryLoad) return; // signed out, or the view changed meanwhile
    page.items.forEach((image) => addToGallery(image));
    nextCursor = page.nextCursor;
    shortPages = nextCursor && page.items.length < config.pageSize ? shortPages + 1 : 0;
    followOn = shortPages > 0 && shortPages <= SHORT_PAGES_FOLLOWED;
    button.hidden = !nextCursor;
    $("gallery-empty").hidden = allTiles().length > 0 || Boolean(nextCursor);
  } catch (err) {
    if (err.signedOut || mine !== galleryLoad) return;
    showNotice(`The gallery could not be loaded: ${err.message} Reload the page to try again.`);
  } finally {
    if (mine === galleryLoad) {
      button.disabled = false;
      if (followOn) loadGallery();
      else watchLoadMore(); // still in view (the page did not fill the screen): the next one comes too
    }
  }
}

async function heardOfAnImage(message) {
  // Everyone's photos shown: an image changed. Its record as the API shows it to this admin, in
  // place of its tile (or at the top, a new photo); a deleted one's tile goes.
  if (!showingAll()) return;
  const shown = tileOf(message.imageId);
  if (message.status === "deleted") {
    shown?.remove();
    return;
  }
  if (shown || TOLD.includes(message.event)) await readIntoGallery(message.imageId, !shown);
}

async function readIntoGallery(id, atTop) {
  const shownFor = view;
  try {
    const image = await api(`/images/${id}`);
    if (shownFor === view && showingAll()) addToGallery(image, atTop);
  } catch { /* gone meanwhile, or the network: the tile stays as it was */ }
}

function catchUp() {
  // The socket (re)opened: what changed while it was not open went by unheard. Each tile still
  // waiting is read once (an upload of this tab's is its own: it reads its record anyway).
  for (const li of allTiles()) {
    if (li.querySelector(".tile-waiting") && /^[0-9a-f]{32}$/.test(li.dataset.id)) readIntoGallery(li.dataset.id, false);
  }
}

function watchLoadMore() {
  // (Again) from now: an observer tells at once whether its target is in view.
  loadingOnScroll?.unobserve($("load-more"));
  loadingOnScroll?.observe($("load-more"));
}

function loadOnScroll(entries) {
  loadMoreInView = entries[entries.length - 1].isIntersecting;
  loadIfScrolledTo();
}

function loadIfScrolledTo() {
  // "Load more" in view (or near it) on a scrolled page: the next page, without a click. Only once
  // the page has been scrolled: a first page that does not fill the screen waits for the button.
  const button = $("load-more");
  if (loadMoreInView && window.scrollY > 0 && !button.hidden && !button.disabled) loadGallery();
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
  return allTiles().flatMap((li) => {
    const image = records.get(li.dataset.id);
    const tile = li.querySelector(".tile-button");
    return image && tile && largestRendition(image) ? [{ image, tile }] : [];
  });
}

function openViewer(id) {
  const photos = galleryPhotos();
  openLightbox(photos, photos.findIndex(({ image }) => image.id === id), { describe, remove, refresh, more });
}

async function more() {
  // The lightbox steps near the last photo loaded: the next page, if the gallery has one.
  if ($("load-more").hidden) return [];
  await loadGallery();
  return galleryPhotos();
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

function remove(image) {
  // The gallery holds the person's own images, or every image for an admin: both may delete.
  // Deleted at once, with Undo (js/deletion.js): true, and the lightbox moves on.
  const whose = isMine(image) ? "" : `, which belonged to ${ownerLabel(image)}`;
  deleteWithUndo([image], { name: `${image.filename}${whose}`, moveFocus: false });
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
  forgetLookalikes();
  $("gallery-empty").hidden = true;
  $("load-more").hidden = true;
  $("scope-all").checked = false;
  showAdminFilters(false);
  nextCursor = null;
  galleryLoad++;
  view++;
}

export function wireGallery() {
  $("load-more").addEventListener("click", () => loadGallery());
  $("scope-all").addEventListener("change", () => {
    showAdminFilters(showingAll());
    loadGallery(true);
  });
  wireAdminFilters(() => loadGallery(true));
  wireDays();
  wireLookalikes((id) => records.get(id)); // a photo's "Looks like N" button, on its tile
  // The button stays, for the keyboard and where this observer is missing.
  loadingOnScroll = "IntersectionObserver" in window
    ? new IntersectionObserver(loadOnScroll, { rootMargin: "0px 0px 400px 0px" })
    : null;
  watchLoadMore();
  // Near it already (the margin), the first scroll is what it waits for.
  window.addEventListener("scroll", loadIfScrolledTo, { passive: true });
}
