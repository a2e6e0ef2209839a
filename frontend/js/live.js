// Live status (docs/events.md#live-status): while someone is signed in, one WebSocket to
// config.json's eventsUrl, with their ID token in its query (browsers cannot set headers on a
// WebSocket). Each image event it brings settles a wait (js/upload.js) at once. When it cannot
// connect, or drops, nothing is said: the waits poll as they always did, and it tries again
// later with a fresh token. While an admin's gallery shows everyone's photos, the socket asks for
// everyone's events (scope=all, which the server grants to the pool's admins only) and the gallery
// hears each one no upload of this tab waits for (watchEveryone).

import { config } from "./config.js";
import { epoch, idToken } from "./session.js";

const RETRY_MS = [2000, 5000, 15000, 30000, 60000]; // after each failed try in a row
const KEPT = 200; // events kept for a wait that begins after its event arrived
// API Gateway closes a WebSocket idle for 10 minutes: a word now and then keeps it (its $default
// route answers nothing), one function call where a new handshake would cost three.
const KEEPALIVE_MS = 9 * 60 * 1000;

let socket = null;
let open = false;
let tries = 0;
let retryTimer = null;
let keepAlive = null;
let mine = -1;
let attempt = 0; // the latest connect(); an older one that finds it is not the latest gives up
let watcher = null; // { heard(message), opened() } while everyone's events are asked for
const waits = new Map(); // image id -> Set of functions settling a nextEvent
const heardOf = new Map(); // image id -> its last message, oldest first

export function liveOpen() {
  return open;
}

export function startLive() {
  stopLive();
  if (!config.eventsUrl || typeof WebSocket === "undefined") return;
  mine = epoch;
  connect();
}

function closeSocket() {
  clearTimeout(retryTimer);
  clearInterval(keepAlive);
  attempt++;
  const closing = socket;
  socket = null;
  open = false;
  tries = 0;
  settleAll(); // the waits read their records once, and poll until a socket is open again
  if (closing) closing.close();
}

export function stopLive() {
  mine = -1;
  watcher = null;
  heardOf.clear();
  closeSocket();
}

export function watchEveryone(handlers) {
  // Everyone's events (handlers: { heard(message), opened() }), or the person's own (null). A
  // change of scope is a new handshake: the server decides what a connection hears when it opens.
  const changed = Boolean(handlers) !== Boolean(watcher);
  watcher = handlers;
  if (changed && mine === epoch) {
    closeSocket();
    connect();
  }
}

async function connect() {
  const tried = ++attempt;
  let token;
  try {
    token = await idToken();
  } catch {
    return; // signed out meanwhile
  }
  if (mine !== epoch || tried !== attempt) return;
  const scope = watcher ? "&scope=all" : "";
  const ws = new WebSocket(`${config.eventsUrl}?token=${encodeURIComponent(token)}${scope}`);
  socket = ws;
  ws.onopen = () => {
    if (socket !== ws) return;
    open = true;
    tries = 0;
    clearInterval(keepAlive);
    keepAlive = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"action":"keepalive"}'), KEEPALIVE_MS);
    if (scope) watcher?.opened(); // what changed before it opened went by unheard
  };
  ws.onmessage = (event) => {
    if (socket === ws) heard(event.data);
  };
  ws.onclose = () => {
    // Refused, dropped or closed by API Gateway (2 hours at most): the waits poll meanwhile.
    if (socket !== ws) return;
    socket = null;
    open = false;
    clearInterval(keepAlive);
    settleAll();
    retryTimer = setTimeout(connect, RETRY_MS[Math.min(tries++, RETRY_MS.length - 1)]);
  };
}

function heard(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return;
  }
  if (!message || message.type !== "image" || !message.imageId) return;
  heardOf.delete(message.imageId);
  heardOf.set(message.imageId, message);
  if (heardOf.size > KEPT) heardOf.delete(heardOf.keys().next().value);
  const waiting = waits.get(message.imageId);
  if (waiting) for (const settle of waiting) settle(message);
  else watcher?.heard(message); // another person's photo, or this admin's from another tab
}

function settleAll() {
  for (const settles of waits.values()) for (const settle of settles) settle(null);
}

// The next message about this image (or one heard before the wait began), or null after `ms`,
// or as soon as the socket closes.
export function nextEvent(imageId, ms) {
  const known = heardOf.get(imageId);
  if (known) {
    heardOf.delete(imageId);
    return Promise.resolve(known);
  }
  return new Promise((resolve) => {
    const settles = waits.get(imageId) || new Set();
    const settle = (message) => {
      clearTimeout(timer);
      settles.delete(settle);
      if (!settles.size) waits.delete(imageId);
      if (message) heardOf.delete(imageId);
      resolve(message);
    };
    const timer = setTimeout(() => settle(null), ms);
    settles.add(settle);
    waits.set(imageId, settles);
  });
}
