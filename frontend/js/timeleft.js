// How long an upload has left: the bytes still to send over the pace they went at in the last few
// seconds (not since the start: a connection's speed changes). Nothing is said before the pace is
// known, after an upload has run a couple of seconds; a quick upload never says it at all.

const WINDOW_MS = 5000; // the pace is measured over this much of the latest progress
const KNOWN_AFTER_MS = 2000; // an upload younger than this says no time left

export function newPace() {
  return { since: null, samples: [] }; // samples: { at (ms), bytes (sent so far) }
}

export function notePace(pace, at, bytes) {
  if (pace.since === null) pace.since = at;
  pace.samples.push({ at, bytes });
  while (pace.samples.length > 2 && at - pace.samples[1].at >= WINDOW_MS) pace.samples.shift();
}

export function secondsLeft(pace, bytesLeft) {
  // null: not known yet (too early, or nothing moved), or nothing left to send.
  const first = pace.samples[0];
  const last = pace.samples.at(-1);
  if (!first || bytesLeft <= 0 || last.at - pace.since < KNOWN_AFTER_MS || last.at <= first.at) return null;
  const perMs = (last.bytes - first.bytes) / (last.at - first.at);
  return perMs > 0 ? bytesLeft / perMs / 1000 : null;
}

export function describeTimeLeft(seconds) {
  // Rounded as people say it, so the text does not flicker at every progress event.
  if (seconds === null) return "";
  if (seconds < 10) return "a few seconds left";
  if (seconds < 60) return `about ${Math.round(seconds / 5) * 5} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}
