// imagepipe page: signs in with the Cognito user pool, asks the API for a presigned POST,
// uploads straight to S3 with progress, waits for the record to be processed or failed (told by
// the live status where it can, js/live.js, else polling),
// lists the signed-in person's gallery (every user's, for admins who ask), and shows admins the
// stack's health.
// Native ES modules, no build step; the same files are served locally and from S3. This one
// wires the others together: index.html loads it, and it the rest.

import { showAccount, showSignIn, showSignedIn, wireAuth } from "./auth.js";
import { loadConfig } from "./config.js";
import { sendWaitingDeletes, wireDeletes } from "./deletion.js";
import { clearGallery, loadGallery, wireGallery } from "./gallery.js";
import { clearHealth, wireHealth } from "./health.js";
import { wireLightbox } from "./lightbox.js";
import { startLive, stopLive } from "./live.js";
import { stopSelecting, wireSelection } from "./selection.js";
import { followOtherTabs, resumeStoredSession, setSessionView } from "./session.js";
import { clearFailedChoice, restoreFailedChoice, wireTiles } from "./tiles.js";
import { $, showNotice } from "./ui.js";
import { clearUploads, wireUploads } from "./upload.js";

const LEGACY_TOKENS_KEY = "imagepipe.deleteTokens"; // delete tokens from before accounts

setSessionView({
  clear() {
    // Nothing of one person's gallery stays on the page for the next one; their deletes still go.
    sendWaitingDeletes();
    stopSelecting();
    clearFailedChoice();
    clearGallery();
    clearHealth();
    clearUploads();
    stopLive();
    showNotice("");
  },
  signedIn({ focus }) {
    showSignedIn();
    if (focus) $("upload-heading").focus(); // the sign-in button is gone; go where the work starts
    restoreFailedChoice();
    startLive();
    return loadGallery(true);
  },
  signedOut(message) {
    showSignIn(message);
    $("email").focus();
  },
  changed: showAccount,
});

async function start() {
  try {
    await loadConfig();
  } catch (err) {
    showNotice(`The site is not configured (${err.message}). Is the stack deployed? Run \`make up\`.`);
    return;
  }
  try { localStorage.removeItem(LEGACY_TOKENS_KEY); } catch { /* storage unavailable */ }
  wireUploads();
  wireGallery();
  wireLightbox();
  wireTiles();
  wireSelection();
  wireDeletes();
  wireHealth();
  wireAuth();
  followOtherTabs();
  if (!(await resumeStoredSession())) showSignIn();
}

start();
