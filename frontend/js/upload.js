// Uploads: photos picked or dropped anywhere (a full-window overlay while a file is dragged over
// the page), each on a card of the upload tray (js/tray.js) with its progress; checked here for a
// clear message, hashed (SHA-256: a photo already in the gallery is not sent again), sent three at
// a time as presigned POSTs straight to storage, then waited for until processed (into the
// gallery) or failed (with a Retry when another try may help): told by the live status's WebSocket
// (js/live.js) where it is open, else polled.

import { api } from "./api.js";
import { config } from "./config.js";
import { liveOpen, nextEvent } from "./live.js";
import { addToGallery, claimTile, failTile, reserveTile, showExisting } from "./gallery.js";
import { cardSizes, makePicture } from "./picture.js";
import { SignedOut, epoch, session } from "./session.js";
import { addToTray, clearTray, setEntrySent, setEntryState, wireTray } from "./tray.js";
import { $, describeError, formatBytes, showNotice } from "./ui.js";

const POLL_MS = 1000;
const POLL_LIMIT_MS = 120000; // never spin forever
// With the live status open, the record is read when its event arrives, and this often anyway
// (a message lost: the socket dropped, the function throttled).
const LIVE_CHECK_MS = 20000;
const PARALLEL_UPLOADS = 3;

let queue = []; // tray entries waiting for one of the PARALLEL_UPLOADS workers
let workers = 0;

// Formats by their first bytes: a browser gives some files no type, or a wrong one (a camera's
// .mpo is a JPEG; HEIC has none on some systems). The server decides by content anyway.
const SIGNATURES = [
  ["jpeg", (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ["png", (b) => b[0] === 0x89 && ascii(b, 1, 4) === "PNG"],
  ["gif", (b) => ascii(b, 0, 4) === "GIF8"],
  ["webp", (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP"],
  ["avif", (b) => ascii(b, 4, 8) === "ftyp" && ["avif", "avis"].includes(ascii(b, 8, 12))],
  ["heic", (b) => ascii(b, 4, 8) === "ftyp" && ["heic", "heix", "heim", "heis", "mif1", "msf1"].includes(ascii(b, 8, 12))],
];

function ascii(bytes, from, to) {
  return String.fromCharCode(...bytes.slice(from, to));
}

async function contentTypeOf(file) {
  if (config.acceptedTypes.includes(file.type)) return file.type;
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const found = SIGNATURES.find(([, matches]) => matches(head));
  const type = found && config.acceptedTypes.find((t) => t.endsWith(`/${found[0]}`));
  return type || file.type;
}

function checkFile(file, type) {
  // The reason alone: the card and its announcement name the file.
  if (!config.acceptedTypes.includes(type)) return `not an accepted image type (${type || "unknown"}).`;
  if (file.size === 0) return "the file is empty.";
  if (file.size > config.maxBytes) return `larger than ${formatBytes(config.maxBytes)}.`;
  return null;
}

async function sha256Of(file) {
  // The file's SHA-256 as hex (what POST /uploads takes), or null where Web Crypto is missing: it
  // exists in secure contexts only (HTTPS, or the loopback address of a local stack), and without
  // it the upload goes as before. The whole file is read into memory once: within the size limit.
  if (!globalThis.crypto?.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function alreadyInGallery(entry, id) {
  // Nothing goes to storage: the card says so, the tile held for it goes, and the photo's own
  // tile is shown if the gallery has it.
  entry.card.dataset.id = id;
  entry.tile?.remove();
  showExisting(id);
  setEntryState(entry, "duplicate", "Already in your gallery");
}

function postWithProgress(url, fields, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    // The exact share sent (not a rounded percentage): the tray works out the pace from it.
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const error = new Error(`Storage refused the upload (${xhr.status}).`);
      error.status = xhr.status;
      reject(error);
    };
    xhr.onerror = () => reject(new Error("The upload was interrupted. Check your connection and try again."));
    xhr.send(form);
  });
}

async function waitForProcessing(id, entry, mine) {
  const started = Date.now();
  let asked = false;
  while (Date.now() - started < POLL_LIMIT_MS) {
    if (liveOpen()) await nextEvent(id, LIVE_CHECK_MS);
    else if (asked) await new Promise((r) => setTimeout(r, POLL_MS));
    if (mine !== epoch) throw new SignedOut();
    asked = true;
    const image = await api(`/images/${id}`);
    if (mine !== epoch) throw new SignedOut();
    if (image.status === "processed" || image.status === "failed") return image;
    setEntryState(entry, "processing",
      image.status === "processing" ? "Processing…" : "Uploaded, waiting to be processed…");
  }
  throw new Error("Processing is taking too long; reload the page later to see it.");
}

function fail(entry, reason) {
  setEntryState(entry, "failed", `Failed: ${reason}`, reason);
  failTile(entry.tile, entry.file.name, reason); // its tile says so where it is (a record's own verdict has filled it)
}

async function uploadOne(entry) {
  const { file, card } = entry;
  const mine = epoch;
  card.querySelector(".retry")?.remove();
  const type = await contentTypeOf(file);
  const problem = checkFile(file, type);
  if (problem) return fail(entry, problem);
  setEntrySent(entry, 0);
  let sent = false; // once S3 has the file, a failure is the server's to report, not a retry
  try {
    setEntryState(entry, "uploading", "Checking…");
    const sha256 = await sha256Of(file);
    if (mine !== epoch) return;
    setEntryState(entry, "uploading", "Uploading…");
    const created = await api("/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, contentType: type, size: file.size, ...(sha256 && { sha256 }) }),
    });
    if (mine !== epoch) return;
    if (created.duplicateOf) return alreadyInGallery(entry, created.duplicateOf);
    card.dataset.id = created.id;
    claimTile(entry.tile, created.id);
    await postWithProgress(created.upload.url, created.upload.fields, file, (share) => setEntrySent(entry, share));
    sent = true;
    setEntrySent(entry, 1);
    setEntryState(entry, "processing", "Processing…");
    const image = await waitForProcessing(created.id, entry, mine);
    if (image.status === "failed") {
      addToGallery(image, true); // the failed tile in its place
      return fail(entry, describeError(image.error));
    }
    const { picture } = makePicture(image, {
      alt: `Thumbnail of ${image.filename}`, sizes: cardSizes(image), lazy: false,
    });
    card.prepend(picture);
    setEntryState(entry, "processed", `Processed: ${image.width}×${image.height}`);
    addToGallery(image, true);
  } catch (err) {
    if (err.signedOut || mine !== epoch) return; // the card went with the session
    fail(entry, err.message);
    // Worth another try: the network, or a server error; not a refusal the same file would get again.
    if (!sent && (!err.status || err.status >= 500)) offerRetry(entry);
  }
}

function offerRetry(entry) {
  // The file never reached storage: the same File object can be sent again.
  const { file, card } = entry;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button retry";
  button.textContent = "Retry";
  button.setAttribute("aria-label", `Retry ${file.name}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    await forgetAbandoned(card.dataset.id);
    delete card.dataset.id;
    entry.tile = reserveTile(file.name, entry.tile); // its failed tile waits again, where it is
    uploadOne(entry);
  });
  card.querySelector(".card-actions").prepend(button);
}

async function forgetAbandoned(id) {
  // The record of an upload that never arrived would otherwise stay pending until it expires.
  if (!id) return;
  try {
    await api(`/images/${id}`, { method: "DELETE" });
  } catch { /* best effort: the sweep removes it anyway */ }
}

async function work() {
  workers++;
  try {
    while (queue.length) await uploadOne(queue.shift());
  } finally {
    workers--;
  }
}

function uploadAll(files) {
  if (!session || !files.length) return;
  showNotice("");
  // Listed in the order picked, sent in that order, by at most PARALLEL_UPLOADS at a time; each
  // holds its tile in the gallery from now (the last picked first: the newest upload).
  const added = addToTray(files);
  added.forEach((entry) => { entry.tile = reserveTile(entry.file.name); });
  queue.push(...added);
  while (workers < PARALLEL_UPLOADS && queue.length) work();
}

function hasFiles(e) {
  return Boolean(e.dataTransfer?.types?.includes("Files"));
}

function wireDropAnywhere() {
  // Anywhere on the page: the whole window says it takes the drop while a file is over it.
  const zone = $("dropzone");
  const overlay = $("drop-overlay");
  let depth = 0;
  const show = (on) => {
    zone.classList.toggle("dragging", on);
    overlay.hidden = !on;
  };
  window.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth++;
    if (session && hasFiles(e)) show(true);
  });
  window.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; show(false); } });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault(); // signed in or not, a dropped file never replaces the page
    depth = 0;
    show(false);
    if (session && e.dataTransfer?.files?.length) uploadAll(e.dataTransfer.files);
  });
}

function describeQuota(quota) {
  if (!quota) return "";
  const parts = [];
  if (quota.uploadsPerDay) parts.push(`${quota.uploadsPerDay} uploads a day`);
  if (quota.bytes) parts.push(`${formatBytes(quota.bytes)} stored`);
  return parts.length ? ` Your account allows ${parts.join(" and ")}.` : "";
}

export function clearUploads() {
  queue = []; // what was waiting goes with the session, never to the next person's account
  clearTray();
}

export function wireUploads() {
  $("max-size").textContent = formatBytes(config.maxBytes);
  // The server's list, from config.json: the picker offers what the API accepts (HEIC by
  // extension too: browsers give it no type on some systems).
  $("file-input").accept = [...config.acceptedTypes, ".heic", ".heif"].join(",");
  $("quota-hint").textContent = describeQuota(config.quota);
  $("file-input").addEventListener("change", (e) => {
    uploadAll(e.target.files);
    e.target.value = "";
  });
  wireDropAnywhere();
  wireTray();
}
