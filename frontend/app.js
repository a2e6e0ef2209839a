// imagepipe page: signs in with the Cognito user pool, asks the API for a presigned POST,
// uploads straight to S3 with progress, polls the record until it is processed or failed,
// lists the signed-in person's gallery (every user's, for admins who ask).
// Plain module, no build step; the same file is served locally and from S3.

const POLL_MS = 1000;
const POLL_LIMIT_MS = 120000; // never spin forever
const PARALLEL_UPLOADS = 3;
const SESSION_KEY = "imagepipe.session"; // {idToken, refreshToken, expiresAt}: never the password
const LEGACY_TOKENS_KEY = "imagepipe.deleteTokens"; // delete tokens from before accounts
const REFRESH_RETRY_MS = 30000; // after a refresh that could not reach the sign-in service
const ADMIN_GROUP = "admins";

const $ = (id) => document.getElementById(id);
let config = null;
let nextCursor = null;
let session = null; // {idToken, refreshToken, expiresAt (this browser's clock, ms), claims}
let refreshing = null; // the refresh in flight, shared by everyone who needs a fresh token
let refreshTimer = null;
let epoch = 0; // changes at every sign-in and sign-out: work begun for another session stops
let galleryLoad = 0; // the latest gallery request; an older answer is dropped

function describeError(error) {
  // The server's messages are written for people; the code is for programs.
  return error && error.message ? error.message : "Something went wrong.";
}

function formatBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

function announce(text) {
  $("status").textContent = text;
}

function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

// ---- sign-in (Cognito user pool, its public JSON API) -----------------------

class SignedOut extends Error {
  // The session ended while a request waited: whatever it was for is gone with it.
  constructor() { super("You are signed out."); this.signedOut = true; }
}

class CognitoError extends Error {
  constructor(type, message) { super(message || type); this.type = type; }
}

async function cognito(action, body) {
  let response;
  try {
    response = await fetch(config.auth.endpoint.replace(/\/+$/, "") + "/", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify({ ClientId: config.auth.clientId, ...body }),
    });
  } catch {
    throw new CognitoError("NetworkError",
      "The sign-in service could not be reached. Check your connection and try again.");
  }
  let data = {};
  try { data = JSON.parse(await response.text() || "{}"); } catch { /* not JSON */ }
  if (!response.ok) {
    // `__type` is the bare name, or prefixed with a namespace and '#'.
    const type = String(data.__type || response.headers.get("x-amzn-errortype") || "").split("#").pop().split(":")[0];
    throw new CognitoError(type || `HTTP${response.status}`, data.message || data.Message);
  }
  return data;
}

function authMessage(err, action) {
  // What each refusal means to the person at the form.
  const message = err.message || "";
  switch (err.type) {
    case "NotAuthorizedException":
      if (/disabled/i.test(message)) return "This account is disabled.";
      if (action === "confirm") return "This account is already confirmed: sign in with its password.";
      return "Wrong email or password.";
    case "UserNotFoundException":
      return action === "sign-in" ? "Wrong email or password." : "There is no account with this email.";
    case "UsernameExistsException":
      return "An account with this email already exists. Sign in instead.";
    case "InvalidPasswordException":
      return `That password is too weak: ${message.replace(/^Password did not conform with policy:\s*/i, "")}`
        .replace(/([^.])$/, "$1.");
    case "InvalidParameterException":
      if (/password/i.test(message)) return "That password is too weak: it is too short.";
      if (/email|username/i.test(message)) return "Enter a valid email address.";
      return message;
    case "UserNotConfirmedException":
      return "This account is not confirmed yet: enter the code we emailed you.";
    case "CodeMismatchException":
      return "That code is not right. Check the email we sent and try again.";
    case "ExpiredCodeException":
      return "That code has expired. Send a new code and try again.";
    case "CodeDeliveryFailureException":
      return "The confirmation email could not be sent. Try again in a moment.";
    case "LimitExceededException":
    case "TooManyRequestsException":
    case "TooManyFailedAttemptsException":
      return "Too many attempts. Wait a few minutes and try again.";
    case "PasswordResetRequiredException":
      return "This account's password must be reset before it can sign in.";
    case "UserLambdaValidationException":
      return message.replace(/^PreSignUp failed with error\s*/i, "") || "This sign-up was refused.";
    case "NetworkError":
      return message;
    default:
      return message ? `Sign-in failed: ${message}` : "Sign-in failed. Try again.";
  }
}

function jwtClaims(jwt) {
  try {
    const b64 = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

function makeSession(idToken, refreshToken, expiresAt = null) {
  const claims = jwtClaims(idToken);
  // The token's lifetime counted on this browser's clock from now, so a clock that is
  // off does not make a fresh token look expired (or an old one valid).
  const lifetime = Number(claims.exp) - Number(claims.iat);
  if (expiresAt == null) expiresAt = Date.now() + (lifetime > 0 ? lifetime * 1000 : 0);
  return { idToken, refreshToken, expiresAt, claims };
}

function readStoredSession(text) {
  try {
    const stored = JSON.parse(text);
    if (stored && typeof stored.idToken === "string" && typeof stored.refreshToken === "string") {
      return makeSession(stored.idToken, stored.refreshToken,
        typeof stored.expiresAt === "number" ? stored.expiresAt : null);
    }
  } catch { /* nothing usable */ }
  return null;
}

function storeSession(s) {
  // Tokens only: the password is used once, for InitiateAuth, and never kept.
  try {
    if (s) {
      localStorage.setItem(SESSION_KEY, JSON.stringify(
        { idToken: s.idToken, refreshToken: s.refreshToken, expiresAt: s.expiresAt }));
    } else {
      localStorage.removeItem(SESSION_KEY);
    }
  } catch { /* storage unavailable: the session lasts as long as the page */ }
}

function signedInEmail() {
  return session ? session.claims.email || session.claims["cognito:username"] || "" : "";
}

function isAdmin() {
  const groups = session?.claims["cognito:groups"];
  return Array.isArray(groups) && groups.includes(ADMIN_GROUP);
}

function secondsLeft(s) {
  return (s.expiresAt - Date.now()) / 1000;
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  // Refresh ahead of expiry: 5 minutes before, or a quarter of the token's life if it is short.
  const lifetime = Number(session.claims.exp) - Number(session.claims.iat) || 0;
  const lead = Math.min(300, Math.max(0, lifetime) / 4);
  const delay = Math.max(0, Math.min(2 ** 31 - 1, (secondsLeft(session) - lead) * 1000));
  refreshTimer = setTimeout(() => {
    refresh().catch((err) => {
      if (!err.signedOut) refreshTimer = setTimeout(scheduleRefresh, REFRESH_RETRY_MS);
    });
  }, delay);
}

function refresh() {
  // One refresh at a time; whoever asks meanwhile waits for the same one.
  if (!session) return Promise.reject(new SignedOut());
  if (!refreshing) {
    const before = session;
    refreshing = (async () => {
      let result;
      try {
        result = await cognito("InitiateAuth", {
          AuthFlow: "REFRESH_TOKEN_AUTH",
          AuthParameters: { REFRESH_TOKEN: before.refreshToken },
        });
      } catch (err) {
        const refused = err.type === "NotAuthorizedException" || err.type === "UserNotFoundException";
        if (!refused || session !== before) throw err; // unreachable or busy: tried again later
        // Revoked, expired, or the user is gone: only a new sign-in helps.
        endSession("Your session has ended. Sign in again.");
        throw new SignedOut();
      }
      if (session !== before) throw new SignedOut();
      const tokens = result.AuthenticationResult || {};
      // REFRESH_TOKEN_AUTH returns no new refresh token; keep ours.
      session = makeSession(tokens.IdToken, tokens.RefreshToken || before.refreshToken);
      storeSession(session);
      showAccount();
      scheduleRefresh();
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function idToken() {
  if (!session) throw new SignedOut();
  if (secondsLeft(session) < 60) await refresh();
  if (!session) throw new SignedOut();
  return session.idToken;
}

function showAccount() {
  $("account-email").textContent = signedInEmail();
  const admin = isAdmin();
  $("scope-all-control").hidden = !admin;
  if (!admin && $("scope-all").checked) {
    $("scope-all").checked = false;
    if (!$("app").hidden) loadGallery(true);
  }
}

function showSignedIn() {
  $("auth").hidden = true;
  $("account").hidden = false;
  $("app").hidden = false;
  showAccount();
}

function showSignIn(message = "") {
  $("app").hidden = true;
  $("account").hidden = true;
  $("auth").hidden = false;
  $("sign-in-form").hidden = false;
  $("confirm-form").hidden = true;
  setAuthMessage(message);
}

function setAuthMessage(text, kind = "error") {
  $("auth-message").textContent = text;
  $("auth-message").dataset.kind = kind;
}

function clearApp() {
  // Nothing of one person's gallery stays on the page for the next one.
  if ($("viewer").open) $("viewer").close();
  $("viewer-media").replaceChildren();
  $("viewer-details").replaceChildren();
  $("viewer-facts").replaceChildren();
  $("viewer-download").removeAttribute("href");
  $("uploads").replaceChildren();
  $("uploads-heading").hidden = true;
  $("gallery").replaceChildren();
  $("gallery-empty").hidden = true;
  $("load-more").hidden = true;
  $("scope-all").checked = false;
  nextCursor = null;
  galleryLoad++;
  showNotice("");
}

function beginSession(s, { focus = false } = {}) {
  epoch++;
  clearApp();
  session = s;
  storeSession(s);
  scheduleRefresh();
  showSignedIn();
  if (focus) $("upload-heading").focus(); // the sign-in button is gone; go where the work starts
  return loadGallery(true);
}

function endSession(message = "") {
  epoch++;
  session = null;
  clearTimeout(refreshTimer);
  storeSession(null);
  clearApp();
  showSignIn(message);
  $("email").focus();
}

async function signIn(email, password) {
  const result = await cognito("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  const tokens = result.AuthenticationResult;
  if (!tokens) {
    // A challenge (a new password, MFA) that this page does not handle.
    throw new CognitoError(result.ChallengeName || "Challenge",
      result.ChallengeName === "NEW_PASSWORD_REQUIRED"
        ? "This account must choose a new password before it can sign in here. Ask an administrator."
        : "This account needs a sign-in step this page does not support.");
  }
  $("password").value = ""; // not kept on the page either
  $("code").value = "";
  await beginSession(makeSession(tokens.IdToken, tokens.RefreshToken), { focus: true });
  announce(`Signed in as ${signedInEmail()}.`);
}

function showConfirmStep(email) {
  $("confirm-email").textContent = email;
  $("sign-in-form").hidden = true;
  $("confirm-form").hidden = false;
  $("code").value = "";
  $("code").focus();
}

async function withBusy(form, work) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

function wireAuth() {
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const creating = e.submitter?.value === "sign-up";
    const email = $("email").value.trim();
    const password = $("password").value;
    setAuthMessage("");
    withBusy(e.target, async () => {
      try {
        if (creating) {
          const result = await cognito("SignUp", {
            Username: email,
            Password: password,
            UserAttributes: [{ Name: "email", Value: email }],
          });
          const confirmed = result.UserConfirmed ?? !config.auth.confirmSignUp;
          if (!confirmed) return showConfirmStep(email);
          announce("Account created.");
        }
        await signIn(email, password);
      } catch (err) {
        if (err.signedOut) return;
        if (err.type === "UserNotConfirmedException") {
          showConfirmStep(email);
        }
        setAuthMessage(authMessage(err, creating ? "sign-up" : "sign-in"));
      }
    });
  });

  $("confirm-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const email = $("email").value.trim();
    setAuthMessage("");
    withBusy(e.target, async () => {
      try {
        await cognito("ConfirmSignUp", { Username: email, ConfirmationCode: $("code").value.trim() });
      } catch (err) {
        const text = authMessage(err, "confirm");
        // Already confirmed: back to the sign-in form, where the password is.
        if (err.type === "NotAuthorizedException" && !/disabled/i.test(err.message)) showSignIn(text);
        else setAuthMessage(text);
        return;
      }
      announce("Account confirmed.");
      if (!$("password").value) {
        showSignIn("");
        setAuthMessage("Your account is confirmed. Sign in with your password.", "info");
        $("password").focus();
        return;
      }
      try {
        await signIn(email, $("password").value);
      } catch (err) {
        showSignIn(authMessage(err, "sign-in"));
      }
    });
  });

  $("resend-code").addEventListener("click", () => {
    const email = $("email").value.trim();
    setAuthMessage("");
    withBusy($("confirm-form"), async () => {
      try {
        await cognito("ResendConfirmationCode", { Username: email });
        setAuthMessage(`A new code is on its way to ${email}.`, "info");
      } catch (err) {
        setAuthMessage(authMessage(err, "resend"));
      }
    });
  });

  $("confirm-back").addEventListener("click", () => {
    showSignIn("");
    $("email").focus();
  });

  $("sign-out").addEventListener("click", async () => {
    const button = $("sign-out");
    const ending = session;
    if (!ending) return;
    button.disabled = true;
    let message = "";
    try {
      // Revoke first, so the refresh token is dead before the page says it is signed out.
      await cognito("RevokeToken", { Token: ending.refreshToken });
    } catch (err) {
      // NotAuthorizedException: the token was no longer valid anyway.
      if (err.type !== "NotAuthorizedException") {
        message = `You are signed out on this device, but the session could not be ended everywhere: ${
          err.type === "NetworkError" ? "the sign-in service could not be reached." : err.message}`;
      }
    } finally {
      button.disabled = false;
    }
    if (session === ending) endSession(message);
    announce("Signed out.");
  });

  // Another tab signed in, refreshed or signed out: follow it.
  window.addEventListener("storage", (e) => {
    if (e.key !== SESSION_KEY && e.key !== null) return;
    const stored = readStoredSession(localStorage.getItem(SESSION_KEY));
    if (!stored) {
      if (session) endSession("You signed out in another tab.");
    } else if (!session || stored.claims.sub !== session.claims.sub) {
      beginSession(stored);
    } else if (stored.idToken !== session.idToken) {
      session = stored;
      showAccount();
      scheduleRefresh();
    }
  });

  // Timers sleep with a hidden tab: check the token when it is shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session && secondsLeft(session) < 300) {
      refresh().catch(() => { /* signed out, or retried by the timer */ });
    }
  });
}

// ---- the API -------------------------------------------------------------------

async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const token = await idToken();
    let response;
    try {
      response = await fetch(config.apiUrl + path, {
        ...options,
        headers: { ...(options.headers || {}), Authorization: token },
      });
    } catch (err) {
      throw new Error("The API could not be reached. Check your connection and try again.");
    }
    if (response.status === 401) {
      // The token was refused (expired, revoked, or not ours): one refresh, then sign in again.
      if (!session) throw new SignedOut();
      if (attempt === 0) {
        if (session.idToken === token) await refresh(); // else another request refreshed meanwhile
        continue;
      }
      endSession("Your session has ended. Sign in again.");
      throw new SignedOut();
    }
    if (response.status === 204) return null;
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    if (!response.ok) {
      const detail = body && body.error;
      let message = detail ? describeError(detail) : `The API answered ${response.status}.`;
      if (detail && detail.resetsAt) {
        const when = new Date(detail.resetsAt);
        if (!Number.isNaN(when.getTime())) message += ` You can upload again after ${when.toLocaleString()}.`;
      }
      const error = new Error(message);
      error.status = response.status;
      error.code = detail && detail.code;
      throw error;
    }
    return body;
  }
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

// ---- pictures: responsive renditions and their placeholders -------------------

// The ThumbHash decoder (frontend/vendor/, pinned by `make vendor`), loaded beside the page,
// never in front of it: a tile paints its mean colour at once and its ThumbHash when the
// decoder is there; without the decoder (a failed import) tiles simply have no blur.
let thumbhash = null;
const thumbhashLoaded = import("./vendor/thumbhash.js")
  .then((module) => { thumbhash = module; return module; })
  .catch(() => null);
const FADE_MS = 250; // style.css: .photo.placeheld img

function renditionSets(image) {
  // Every rendition's files by width (the API's names are not relied on): the fallback each
  // browser shows (JPEG, or WebP for transparent images) and each modern type in `sources`
  // (AVIF), in the API's order. Sizes a small source cannot fill repeat a width: kept once.
  const fallback = new Map();
  const modern = new Map(); // content type -> Map(width -> file)
  for (const r of Object.values(image.renditions || {})) {
    if (!r || !r.url || !r.width) continue;
    if (!fallback.has(r.width)) fallback.set(r.width, r);
    for (const s of r.sources || []) {
      if (!s || !s.url || !s.width || s.contentType === r.contentType) continue;
      if (!modern.has(s.contentType)) modern.set(s.contentType, new Map());
      if (!modern.get(s.contentType).has(s.width)) modern.get(s.contentType).set(s.width, s);
    }
  }
  const ascending = (byWidth) => [...byWidth.values()].sort((a, b) => a.width - b.width);
  return {
    fallbacks: ascending(fallback),
    modern: [...modern].map(([type, byWidth]) => ({ type, files: ascending(byWidth) })),
  };
}

function largestRendition(image) {
  const { fallbacks } = renditionSets(image);
  return fallbacks[fallbacks.length - 1] || null;
}

const srcset = (files) => files.map((f) => `${f.url} ${f.width}w`).join(", ");

function coverFactor(image) {
  // object-fit: cover in a square fills the height of a landscape image: it is shown wider.
  const r = largestRendition(image);
  return r && r.height ? Math.max(1, r.width / r.height) : 1;
}

// `sizes`: the width each picture is shown at, as style.css lays it out, so the browser fetches
// the smallest file that is sharp there (on a phone, the small AVIF; in an old browser, the JPEG).
// The gallery grid of style.css, in px: auto-fill columns of at least 150px with 0.5rem gaps, in
// a body of at most 1100px with 1rem padding; at 480px and below, 3 columns and 0.5rem padding.
const GRID = { column: 150, gap: 8, padding: 32, body: 1100, phone: 480, phonePadding: 16, phoneColumns: 3 };

function tileSizes(image) {
  // The tile's width at each viewport width: n columns share the body (less the gaps) while n
  // of them fit and n + 1 do not; then times the cover factor.
  const f = coverFactor(image).toFixed(3);
  const { column, gap, padding, body, phone, phonePadding, phoneColumns } = GRID;
  const share = (n, width) => `calc((${width} - ${gap * (n - 1)}px) / ${n} * ${f})`;
  const parts = [`(max-width: ${phone}px) ${share(phoneColumns, `100vw - ${phonePadding}px`)}`];
  const most = Math.floor((body + gap) / (column + gap));
  for (let n = Math.max(1, Math.floor((phone + 1 - padding + gap) / (column + gap))); n < most; n++) {
    // n columns until the body is wide enough for n + 1: (n + 1) * column + n * gap.
    parts.push(`(max-width: ${(n + 1) * column + n * gap + padding - 1}px) ${share(n, `100vw - ${padding}px`)}`);
  }
  parts.push(share(most, `min(100vw - ${padding}px, ${body}px)`));
  return parts.join(", ");
}

function cardSizes(image) {
  return `calc(72px * ${coverFactor(image).toFixed(3)})`; // .card .photo: 72px square
}

function viewerSizes(image) {
  // style.css: .viewer-media img, its whole width at most, 70vh tall at most, never upscaled.
  const r = largestRendition(image);
  return `min(calc(min(1060px, 95vw) - 2rem), calc(70vh * ${(r.width / r.height).toFixed(4)}), ${r.width}px)`;
}

function makePicture(image, { alt, sizes, lazy = true }) {
  // <picture>: a <source> per modern type (AVIF) and an <img> with the fallbacks, its `src`
  // the smallest one; width and height keep the aspect ratio before anything arrives.
  const { fallbacks, modern } = renditionSets(image);
  const picture = document.createElement("picture");
  picture.className = "photo";
  for (const { type, files } of modern) {
    const source = document.createElement("source");
    source.type = type;
    source.srcset = srcset(files);
    source.sizes = sizes;
    picture.append(source);
  }
  const img = document.createElement("img");
  img.alt = alt;
  if (lazy) img.loading = "lazy";
  const smallest = fallbacks[0];
  if (smallest) {
    img.width = smallest.width;
    img.height = smallest.height;
  }
  paintPlaceholder(picture, img, image);
  // In its <picture> before it has a URL: a lone <img> would start on the fallback at once.
  picture.append(img);
  img.sizes = sizes;
  img.srcset = srcset(fallbacks);
  if (smallest) img.src = smallest.url;
  renewOnError(picture, img, image);
  return { picture, img };
}

function renewOnError(picture, img, image) {
  // A URL held too long fails: presigned URLs expire (a tab left open for hours), and a re-render
  // (`make reprocess`) replaces the files. Once per picture, the image is asked for again and
  // its current URLs take the old ones' place.
  img.addEventListener("error", async () => {
    if (!session || !image.id) return;
    let fresh;
    try { fresh = await api(`/images/${image.id}`); } catch { return; }
    const { fallbacks, modern } = renditionSets(fresh);
    if (!fallbacks.length) return;
    picture.querySelectorAll("source").forEach((source, i) => {
      if (modern[i]) source.srcset = srcset(modern[i].files);
    });
    img.srcset = srcset(fallbacks);
    img.src = fallbacks[0].url;
  }, { once: true });
}

function placeholderBytes(image) {
  try {
    return image.placeholder ? Uint8Array.from(atob(image.placeholder), (c) => c.charCodeAt(0)) : null;
  } catch {
    return null; // not base64: no blur
  }
}

function paintPlaceholder(picture, img, image) {
  // The mean colour at once, the ThumbHash as soon as the decoder is there; the image fades
  // in over them when it has loaded, and they are dropped (a transparent image shows the tile).
  const colour = /^#[0-9a-f]{6}$/i.test(image.dominantColor || "") ? image.dominantColor : null;
  const hash = placeholderBytes(image);
  if (!colour && !hash) return; // a record from before placeholders: shown as it always was
  picture.classList.add("placeheld");
  if (colour) picture.style.backgroundColor = colour;
  let done = false;
  const blur = (module) => {
    if (done || !module || !hash) return;
    try {
      picture.style.backgroundImage = `url("${module.thumbHashToDataURL(hash)}")`;
    } catch { /* a hash the decoder cannot read: the colour stays */ }
  };
  if (thumbhash) blur(thumbhash); else thumbhashLoaded.then(blur);
  const arrived = () => {
    if (done) return;
    done = true;
    picture.classList.add("loaded");
    setTimeout(() => {
      picture.classList.remove("placeheld");
      picture.style.backgroundColor = "";
      picture.style.backgroundImage = "";
    }, FADE_MS);
  };
  img.addEventListener("load", arrived, { once: true });
  img.addEventListener("error", arrived, { once: true }); // its alt text, not an endless blur
}

// ---- gallery ---------------------------------------------------------------

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

function openViewer(image) {
  const dialog = $("viewer");
  const largest = largestRendition(image);
  const mine = image.owner ? image.owner.toLowerCase() === signedInEmail().toLowerCase() : !showingAll();
  $("viewer-title").textContent = image.filename;
  // A new <picture> each time: an <img> given a new URL would go on showing the last photo.
  $("viewer-media").replaceChildren();
  if (largest) {
    const { picture, img } = makePicture(image, {
      alt: `Preview of ${image.filename}`, sizes: viewerSizes(image), lazy: false,
    });
    img.id = "viewer-image";
    picture.style.setProperty("--ratio", (largest.width / largest.height).toFixed(4));
    picture.style.setProperty("--width", `${largest.width}px`);
    $("viewer-media").append(picture);
  }
  const details = {
    Dimensions: `${image.width}×${image.height}`,
    Size: formatBytes(image.bytes),
    Format: image.format || image.contentType,
    Uploaded: new Date(image.createdAt).toLocaleString(),
  };
  if (showingAll() || !mine) details.Owner = ownerLabel(image);
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
  // The gallery holds the person's own images, or every image for an admin: both may delete.
  $("viewer-delete").onclick = async () => {
    const whose = mine ? "" : `, which belongs to ${ownerLabel(image)}`;
    if (!confirm(`Delete ${image.filename}${whose}? This cannot be undone.`)) return;
    try {
      await api(`/images/${image.id}`, { method: "DELETE" });
      $("gallery").querySelector(`[data-id="${image.id}"]`)?.remove();
      $("gallery-empty").hidden = $("gallery").children.length > 0;
      dialog.close();
      announce(`${image.filename} deleted.`);
    } catch (err) {
      if (err.signedOut) return;
      dialog.close();
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

async function start() {
  try {
    const response = await fetch("config.json");
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    config = await response.json();
    if (!config.auth || !config.auth.endpoint || !config.auth.clientId) {
      throw new Error("config.json names no sign-in service");
    }
  } catch (err) {
    showNotice(`The site is not configured (${err.message}). Is the stack deployed? Run \`make up\`.`);
    return;
  }
  try { localStorage.removeItem(LEGACY_TOKENS_KEY); } catch { /* storage unavailable */ }
  $("max-size").textContent = formatBytes(config.maxBytes);
  // The server's list, from config.json: the picker offers what the API accepts (HEIC by
  // extension too: browsers give it no type on some systems).
  $("file-input").accept = [...config.acceptedTypes, ".heic", ".heif"].join(",");
  $("quota-hint").textContent = describeQuota(config.quota);
  $("file-input").addEventListener("change", (e) => {
    uploadAll(e.target.files);
    e.target.value = "";
  });
  $("load-more").addEventListener("click", () => loadGallery());
  $("scope-all").addEventListener("change", () => loadGallery(true));
  wireDropAnywhere();
  wireAuth();

  let stored = null;
  try { stored = readStoredSession(localStorage.getItem(SESSION_KEY)); } catch { /* storage unavailable */ }
  if (!stored) {
    showSignIn();
    return;
  }
  session = stored;
  if (secondsLeft(stored) < 60) {
    // Expired while the page was closed: refresh before showing anything.
    try { await refresh(); } catch (err) { if (err.signedOut) return; /* unreachable: the API says */ }
  }
  await beginSession(session);
}

start();
