// The signed-in session: the user pool's tokens, refreshed before they expire, kept in this
// browser for a reload and followed across tabs. What the page shows as a session begins,
// changes or ends is main.js's (setSessionView): this module touches no element.

import { cognito } from "./cognito.js";

const SESSION_KEY = "imagepipe.session"; // {idToken, refreshToken, expiresAt}: never the password
const REFRESH_RETRY_MS = 30000; // after a refresh that could not reach the sign-in service
const ADMIN_GROUP = "admins";

export let session = null; // {idToken, refreshToken, expiresAt (this browser's clock, ms), claims}
export let epoch = 0; // changes at every sign-in and sign-out: work begun for another session stops
let refreshing = null; // the refresh in flight, shared by everyone who needs a fresh token
let refreshTimer = null;

let view = { clear() {}, signedIn() {}, signedOut() {}, changed() {} };

export function setSessionView(shown) {
  // clear(): nothing of the last session on the page; signedIn({focus}): the signed-in page
  // (its promise: the gallery loaded); signedOut(message): the sign-in form; changed(): the
  // same person with new tokens (the account bar again).
  view = shown;
}

export class SignedOut extends Error {
  // The session ended while a request waited: whatever it was for is gone with it.
  constructor() { super("You are signed out."); this.signedOut = true; }
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

export function makeSession(idToken, refreshToken, expiresAt = null) {
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

export function signedInEmail() {
  return session ? session.claims.email || session.claims["cognito:username"] || "" : "";
}

export function isAdmin() {
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

export function refresh() {
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
      view.changed();
      scheduleRefresh();
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function idToken() {
  if (!session) throw new SignedOut();
  if (secondsLeft(session) < 60) await refresh();
  if (!session) throw new SignedOut();
  return session.idToken;
}

export function beginSession(s, { focus = false } = {}) {
  epoch++;
  view.clear();
  session = s;
  storeSession(s);
  scheduleRefresh();
  return view.signedIn({ focus });
}

export function endSession(message = "") {
  epoch++;
  session = null;
  clearTimeout(refreshTimer);
  storeSession(null);
  view.clear();
  view.signedOut(message);
}

export async function resumeStoredSession() {
  // The session this browser kept, begun again; false when it kept none (the caller shows the
  // sign-in form). A kept session the pool refuses to refresh ends, with its message.
  let stored = null;
  try { stored = readStoredSession(localStorage.getItem(SESSION_KEY)); } catch { /* storage unavailable */ }
  if (!stored) return false;
  session = stored;
  if (secondsLeft(stored) < 60) {
    // Expired while the page was closed: refresh before showing anything.
    try { await refresh(); } catch (err) { if (err.signedOut) return true; /* unreachable: the API says */ }
  }
  await beginSession(session);
  return true;
}

export function followOtherTabs() {
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
      view.changed();
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
