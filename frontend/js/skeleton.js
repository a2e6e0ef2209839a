// The gallery's placeholder grid: while a listing that starts the gallery afresh is on its way (after
// sign-in, a stored session, the admins' view switched), a few neutral tiles in the grid's own
// boxes (index.html's #gallery-placeholders, just before #gallery, with .gallery's grid) stand
// where the first photos will be, and the gallery says it is busy. They go in the same task as
// the page that replaces them, so no frame shows an empty gallery between the two.

import { config } from "./config.js";
import { $ } from "./ui.js";

const MOST_TILES = 12; // about a screenful on a desktop; the listing's page size when smaller

let listings = 0; // listings under the placeholders now: they go when the last one is answered

function showPlaceholders() {
  const grid = $("gallery-placeholders");
  const count = Math.max(1, Math.min(MOST_TILES, config.pageSize || MOST_TILES));
  if (grid.children.length !== count) {
    grid.replaceChildren(...Array.from({ length: count }, () => {
      const tile = document.createElement("li");
      tile.className = "placeholder-tile";
      return tile;
    }));
  }
  grid.hidden = false;
  $("gallery").setAttribute("aria-busy", "true");
}

function clearPlaceholders() {
  $("gallery-placeholders").hidden = true;
  $("gallery").removeAttribute("aria-busy");
}

export async function withPlaceholders(listing, shown = true) {
  // The listing's own answer (or error), the placeholders shown meanwhile when `shown`.
  if (!shown) return listing;
  listings++;
  showPlaceholders();
  try {
    return await listing;
  } finally {
    if (--listings === 0) clearPlaceholders();
  }
}
