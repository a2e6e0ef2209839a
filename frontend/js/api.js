// The API client: every request carries the session's ID token; a refused token is refreshed
// once, then the session ends; errors carry the server's message, status and code.

import { config } from "./config.js";
import { SignedOut, endSession, idToken, refresh, session } from "./session.js";
import { describeError } from "./ui.js";

function authorized(options, token) {
  return { ...options, headers: { ...(options.headers || {}), Authorization: token } };
}

export function sendAsThePageLeaves(path, options = {}, token = session?.idToken) {
  // A request the page cannot wait for (it is being left, or its session is ending): sent with
  // the token as it is, no refresh, no answer read; keepalive lets it outlive the page.
  if (!token) return;
  fetch(config.apiUrl + path, authorized({ ...options, keepalive: true }, token)).catch(() => {});
}

export async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const token = await idToken();
    let response;
    try {
      response = await fetch(config.apiUrl + path, authorized(options, token));
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
