// Uploads: photos picked or dropped anywhere, each on a card with its progress; checked here for
// a clear message, sent three at a time as presigned POSTs straight to storage, then polled
// until processed (into the gallery) or failed (with a Retry when another try may help).

import { api } from "./api.js";
import { config } from "./config.js";
import { addToGallery } from "./gallery.js";
import { cardSizes, makePicture } from "./picture.js";
import { SignedOut, epoch, session } from "./session.js";
import { $, announce, describeError, formatBytes, showNotice } from "./ui.js";

const POLL_MS = 1000;
const POLL_LIMIT_MS = 120000; // never spin forever
const PARALLEL_UPLOADS = 3;

function makeCard(file) {
  const li = document.createElement("li");
  li.className = "card";
  li.innerHTML = `
    <div class="card-body">
      <strong class="name"></strong> <span class="size"></span>
      <progress max="100" value="0"></progress>
      <p class="state">Waiting…</p>
    </div>`;
  li.querySelector(".name").textContent = file.name;
  li.querySelector(".size").textContent = formatBytes(file.size);
  li.querySelector("progress").setAttribute("aria-label", `Upload progress for ${file.name}`);
  $("uploads-heading").hidden = false;
  $("uploads").prepend(li);
  return li;
}

function setState(card, text, kind = "") {
  const p = card.querySelector(".state");
  p.textContent = text;
  card.dataset.state = kind;
}

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
  if (!config.acceptedTypes.includes(type)) {
    return `${file.name}: not an accepted image type (${type || "unknown"}).`;
  }
  if (file.size === 0) return `${file.name}: the file is empty.`;
  if (file.size > config.maxBytes) return `${file.name}: larger than ${formatBytes(config.maxBytes)}.`;
  return null;
}

function postWithProgress(url, fields, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((e.loaded / e.total) * 100));
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

async function waitForProcessing(id, card, mine) {
  const started = Date.now();
  while (Date.now() - started < POLL_LIMIT_MS) {
    const image = await api(`/images/${id}`);
    if (mine !== epoch) throw new SignedOut();
    if (image.status === "processed" || image.status === "failed") return image;
    setState(card, image.status === "processing" ? "Processing…" : "Uploaded, waiting to be processed…",
      "processing");
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error("Processing is taking too long; reload the page later to see it.");
}

async function uploadOne(file, card) {
  const mine = epoch;
  card.querySelector(".retry")?.remove();
  const type = await contentTypeOf(file);
  const problem = checkFile(file, type);
  if (problem) {
    setState(card, `Failed: ${problem}`, "failed");
    announce(problem);
    return;
  }
  const bar = card.querySelector("progress");
  bar.value = 0;
  let sent = false; // once S3 has the file, a failure is the server's to report, not a retry
  try {
    setState(card, "Uploading…", "uploading");
    const created = await api("/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, contentType: type, size: file.size }),
    });
    if (mine !== epoch) return;
    card.dataset.id = created.id;
    await postWithProgress(created.upload.url, created.upload.fields, file, (pct) => { bar.value = pct; });
    sent = true;
    bar.value = 100;
    setState(card, "Processing…", "processing");
    const image = await waitForProcessing(created.id, card, mine);
    if (image.status === "failed") {
      setState(card, `Failed: ${describeError(image.error)}`, "failed");
      announce(`${file.name} failed.`);
    } else {
      setState(card, `Processed: ${image.width}×${image.height}`, "processed");
      const { picture } = makePicture(image, {
        alt: `Thumbnail of ${image.filename}`, sizes: cardSizes(image), lazy: false,
      });
      card.prepend(picture);
      addToGallery(image, true);
      announce(`${file.name} is processed.`);
    }
  } catch (err) {
    if (err.signedOut || mine !== epoch) return; // the card went with the session
    setState(card, `Failed: ${err.message}`, "failed");
    // Worth another try: the network, or a server error; not a refusal the same file would get again.
    if (!sent && (!err.status || err.status >= 500)) offerRetry(file, card);
    announce(`${file.name} failed.`);
  }
}

function offerRetry(file, card) {
  // The file never reached storage: the same File object can be sent again.
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button retry";
  button.textContent = "Retry";
  button.setAttribute("aria-label", `Retry ${file.name}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    await forgetAbandoned(card.dataset.id);
    delete card.dataset.id;
    uploadOne(file, card);
  });
  card.querySelector(".card-body").append(button);
}

async function forgetAbandoned(id) {
  // The record of an upload that never arrived would otherwise stay pending until it expires.
  if (!id) return;
  try {
    await api(`/images/${id}`, { method: "DELETE" });
    $("gallery").querySelector(`[data-id="${id}"]`)?.remove();
  } catch { /* best effort: the sweep removes it anyway */ }
}

async function uploadAll(files) {
  if (!session) return;
  showNotice("");
  const queue = [...files].map((file) => ({ file, card: makeCard(file) }));
  const workers = Array.from({ length: Math.min(PARALLEL_UPLOADS, queue.length) }, async () => {
    while (queue.length) {
      const { file, card } = queue.shift();
      await uploadOne(file, card);
    }
  });
  await Promise.all(workers);
}

function wireDropAnywhere() {
  const zone = $("dropzone");
  let depth = 0;
  window.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; zone.classList.add("dragging"); });
  window.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; zone.classList.remove("dragging"); } });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault(); // signed in or not, a dropped file never replaces the page
    depth = 0;
    zone.classList.remove("dragging");
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
  $("uploads").replaceChildren();
  $("uploads-heading").hidden = true;
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
}
