// Pictures: each photo a <picture> of its responsive renditions (a <source> per modern type, an
// <img> with the fallbacks), sized as style.css lays it out, over its placeholder (the mean
// colour, then the ThumbHash blur) until it has loaded.

import { api } from "./api.js";
import { session } from "./session.js";

// The ThumbHash decoder (frontend/vendor/, pinned by `make vendor`; the import's path is relative
// to this module), loaded beside the page, never in front of it: a tile paints its mean colour at
// once and its ThumbHash when the decoder is there; without the decoder (a failed import) tiles
// simply have no blur.
let thumbhash = null;
const thumbhashLoaded = import("../vendor/thumbhash.js")
  .then((module) => { thumbhash = module; return module; })
  .catch(() => null);
const FADE_MS = 250; // style.css: .photo.placeheld img

export function renditionSets(image) {
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

export function largestRendition(image) {
  const { fallbacks } = renditionSets(image);
  return fallbacks[fallbacks.length - 1] || null;
}

export const srcset = (files) => files.map((f) => `${f.url} ${f.width}w`).join(", ");

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

export function tileSizes(image) {
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

export function cardSizes(image) {
  return `calc(72px * ${coverFactor(image).toFixed(3)})`; // .card .photo: 72px square
}

export function makePicture(image, { alt, sizes, lazy = true }) {
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
