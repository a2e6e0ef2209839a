// A photo's facts as the lightbox's panel lists them: when and with what it was taken, each fact
// when the API has it, as [label, text] rows.

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

export function photoFacts(facts) {
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
