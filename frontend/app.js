// imagepipe page: asks the API for a presigned POST, uploads straight to S3 with
// progress, polls the record until it is processed or failed, lists the gallery.
// Plain module, no build step; the same file is served locally and from S3.

const POLL_MS = 1000;
const POLL_LIMIT_MS = 120000; // never spin forever
const PARALLEL_UPLOADS = 3;
const TOKENS_KEY = "imagepipe.deleteTokens";

const $ = (id) => document.getElementById(id);
let config = null;
let nextCursor = null;

function describeError(error) {
  // The server's messages are written for people; the code is for programs.
  return error && error.message ? error.message : "Something went wrong.";
}

function formatBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function announce(text) {
  $("status").textContent = text;
}

function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

function tokens() {
  try { return JSON.parse(localStorage.getItem(TOKENS_KEY) || "{}"); } catch { return {}; }
}

function saveToken(id, token) {
  const all = tokens();
  all[id] = token;
  localStorage.setItem(TOKENS_KEY, JSON.stringify(all));
}

function forgetToken(id) {
  const all = tokens();
  delete all[id];
  localStorage.setItem(TOKENS_KEY, JSON.stringify(all));
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(config.apiUrl + path, options);
  } catch (err) {
    throw new Error("The API could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const message = body && body.error ? describeError(body.error) : `The API answered ${response.status}.`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- uploads ---------------------------------------------------------------

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

function checkFile(file) {
  if (!config.acceptedTypes.includes(file.type)) {
    return `${file.name}: not an accepted image type (${file.type || "unknown"}).`;
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

async function waitForProcessing(id, card) {
  const started = Date.now();
  while (Date.now() - started < POLL_LIMIT_MS) {
    const image = await api(`/images/${id}`);
    if (image.status === "processed" || image.status === "failed") return image;
    setState(card, image.status === "processing" ? "Processing…" : "Uploaded, waiting to be processed…", "processing");
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error("Processing is taking too long; reload the page later to see it.");
}

async function uploadOne(file, card) {
  card.querySelector(".retry")?.remove();
  const problem = checkFile(file);
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
      body: JSON.stringify({ filename: file.name, contentType: file.type, size: file.size }),
    });
    saveToken(created.id, created.deleteToken);
    card.dataset.id = created.id;
    await postWithProgress(created.upload.url, created.upload.fields, file, (pct) => { bar.value = pct; });
    sent = true;
    bar.value = 100;
    setState(card, "Processing…", "processing");
    const image = await waitForProcessing(created.id, card);
    if (image.status === "failed") {
      setState(card, `Failed: ${describeError(image.error)}`, "failed");
      announce(`${file.name} failed.`);
    } else {
      setState(card, `Processed: ${image.width}×${image.height}`, "processed");
      const img = document.createElement("img");
      img.src = image.renditions.thumbnail.url;
      img.alt = `Thumbnail of ${image.filename}`;
      img.width = image.renditions.thumbnail.width;
      img.height = image.renditions.thumbnail.height;
      card.prepend(img);
      addToGallery(image, true);
      announce(`${file.name} is processed.`);
    }
  } catch (err) {
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
    await forgetAbandoned(card.dataset.id);
    uploadOne(file, card);
  });
  card.querySelector(".card-body").append(button);
}

async function forgetAbandoned(id) {
  // The record of an upload that never arrived would otherwise show as pending until it expires.
  const token = id && tokens()[id];
  if (!token) return;
  try {
    await api(`/images/${id}`, { method: "DELETE", headers: { "X-Delete-Token": token } });
    $("gallery").querySelector(`[data-id="${id}"]`)?.remove();
    forgetToken(id);
  } catch { /* best effort: the record's expiry removes it anyway */ }
}

async function uploadAll(files) {
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

// ---- gallery ---------------------------------------------------------------

function galleryItem(image) {
  const li = document.createElement("li");
  li.className = "tile";
  li.dataset.id = image.id;
  if (image.status !== "processed") {
    const text = document.createElement("div");
    text.className = "tile-text";
    text.textContent = image.status === "failed"
      ? `${image.filename}: failed. ${describeError(image.error)}`
      : `${image.filename}: ${image.status}…`;
    li.append(text);
    return li;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile-button";
  const img = document.createElement("img");
  img.src = image.renditions.thumbnail.url;
  img.alt = image.filename;
  img.loading = "lazy";
  img.width = image.renditions.thumbnail.width;
  img.height = image.renditions.thumbnail.height;
  button.append(img);
  button.setAttribute("aria-label", `Open ${image.filename}`);
  button.addEventListener("click", () => openViewer(image));
  li.append(button);
  return li;
}

function addToGallery(image, atTop = false) {
  const gallery = $("gallery");
  gallery.querySelector(`[data-id="${image.id}"]`)?.remove();
  const item = galleryItem(image);
  if (atTop) gallery.prepend(item); else gallery.append(item);
  $("gallery-empty").hidden = true;
}

async function loadGallery(reset = false) {
  const button = $("load-more");
  button.disabled = true;
  try {
    if (reset) { $("gallery").replaceChildren(); nextCursor = null; }
    const query = `?limit=${config.pageSize || 24}` + (nextCursor ? `&cursor=${encodeURIComponent(nextCursor)}` : "");
    const page = await api(`/images${query}`);
    page.items.forEach((image) => addToGallery(image));
    nextCursor = page.nextCursor;
    button.hidden = !nextCursor;
    $("gallery-empty").hidden = $("gallery").children.length > 0;
  } catch (err) {
    showNotice(`The gallery could not be loaded: ${err.message} Reload the page to try again.`);
  } finally {
    button.disabled = false;
  }
}

function openViewer(image) {
  const dialog = $("viewer");
  const preview = image.renditions.preview;
  $("viewer-title").textContent = image.filename;
  $("viewer-image").src = preview.url;
  $("viewer-image").alt = `Preview of ${image.filename}`;
  const details = {
    Dimensions: `${image.width}×${image.height}`,
    Size: formatBytes(image.bytes),
    Format: image.format || image.contentType,
    Uploaded: new Date(image.createdAt).toLocaleString(),
  };
  $("viewer-details").replaceChildren(...Object.entries(details).flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  $("viewer-download").href = preview.url;
  const token = tokens()[image.id];
  const del = $("viewer-delete");
  del.hidden = !token;
  del.onclick = async () => {
    if (!confirm(`Delete ${image.filename}? This cannot be undone.`)) return;
    try {
      await api(`/images/${image.id}`, { method: "DELETE", headers: { "X-Delete-Token": token } });
      $("gallery").querySelector(`[data-id="${image.id}"]`)?.remove();
      forgetToken(image.id);
      dialog.close();
      announce(`${image.filename} deleted.`);
    } catch (err) {
      showNotice(`Delete failed: ${err.message}`);
    }
  };
  dialog.showModal();
}

// ---- wiring ----------------------------------------------------------------

function wireDropAnywhere() {
  const zone = $("dropzone");
  let depth = 0;
  window.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; zone.classList.add("dragging"); });
  window.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; zone.classList.remove("dragging"); } });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    if (e.dataTransfer?.files?.length) uploadAll(e.dataTransfer.files);
  });
}

async function start() {
  try {
    const response = await fetch("config.json");
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    config = await response.json();
  } catch (err) {
    showNotice(`The site is not configured (${err.message}). Is the stack deployed? Run \`make up\`.`);
    return;
  }
  $("max-size").textContent = formatBytes(config.maxBytes);
  $("file-input").addEventListener("change", (e) => {
    uploadAll(e.target.files);
    e.target.value = "";
  });
  $("load-more").addEventListener("click", () => loadGallery());
  wireDropAnywhere();
  await loadGallery(true);
}

start();
