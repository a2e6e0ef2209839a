// The lightbox: the gallery's photos full-screen on dark, one at a time in the gallery's order,
// each fitted to the screen in the largest rendition that fits (its srcset; the AVIF where the
// browser takes it), its details in a side panel that can be toggled. PhotoSwipe 5 (pinned in
// frontend/vendor/ by `make vendor`) lays out, loads, steps (buttons, arrow keys, swipes), zooms
// and closes (Esc, a click outside the photo), inside the page's native modal <dialog> (#viewer),
// which keeps the rest of the page inert and gives the focus back to a tile when it closes.

import { largestRendition, renditionSets, srcset } from "./picture.js";
import { $ } from "./ui.js";

// PhotoSwipe's lightbox module loads beside the page, its core on the first open (before the
// dialog opens, so that it never shows without its photo). Without them (a failed import) the
// dialog still shows the photo's details, download and delete.
const lightboxLoaded = import("../vendor/photoswipe-lightbox.esm.min.js")
  .then((module) => module.default)
  .catch(() => null);
let coreLoaded = null;
const loadCore = () => (coreLoaded ||= import("../vendor/photoswipe.esm.min.js")
  .then((module) => module.default)
  .catch(() => null));

let lightbox = null; // one PhotoSwipeLightbox: each opening makes a PhotoSwipe of its own from it
let hooks = null; // the opener's { describe(image), remove(image) -> deleted?, refresh(image) -> record?,
//                   more() -> the gallery's photos after loading its next page ([] when it has none) }
let extending = null; // the PhotoSwipe whose photos are being extended by the gallery's next page
let shown = null; // the record of the photo on screen
let shownElement = null; // its element (#viewer-image), attached to the page or not yet
let panelChosen = null; // the person's choice this session (open: true); until then, style.css decides
let insets = { right: 0, bottom: 0 }; // the panel's share of the screen: the photo fits the rest
let detailsButton = null;
let deleting = false; // a delete on its way: the photo stays on screen meanwhile
let leaving = null; // what is on screen as the lightbox closes: where the focus goes after

// The details button's icon, drawn as PhotoSwipe draws its own (an outline cloned from the shape).
const DETAILS_ICON = {
  isCustomSVG: true,
  inner: '<path fill-rule="evenodd" id="pswp__icn-details" d="M16 5a11 11 0 1 0 0 22 11 11 0 0 0 0-22z'
    + 'm0 2.6a8.4 8.4 0 1 1 0 16.8 8.4 8.4 0 0 1 0-16.8zM14.6 10h2.8v2.8h-2.8zm0 4.4h2.8v7.6h-2.8z"/>',
  outlineID: "pswp__icn-details",
};

function slideOf({ image, tile }) {
  // What PhotoSwipe needs of one photo: the largest rendition's size (the photo is never shown
  // larger), every width of each type (the browser picks the one that fits), the tile to zoom from
  // (cropped square, as style.css shows it) and, while the photo loads, the tile's image.
  const { fallbacks, modern } = renditionSets(image);
  const largest = fallbacks[fallbacks.length - 1];
  const thumb = tile.querySelector("img");
  return {
    image,
    src: largest.url,
    srcset: srcset(fallbacks),
    sources: modern,
    width: largest.width,
    height: largest.height,
    alt: image.filename,
    element: tile,
    thumbCropped: true,
    msrc: thumb && thumb.complete && thumb.naturalWidth ? thumb.currentSrc : undefined,
  };
}

function measurePanel() {
  // Open or not (the person's choice, else open where style.css puts it beside the photo, closed
  // where it would cover the photo's lower part), and how much of the screen it takes.
  const panel = $("viewer-panel");
  panel.hidden = false;
  const box = panel.getBoundingClientRect();
  const beside = box.left > 0;
  panel.hidden = !(panelChosen ?? beside);
  const before = insets;
  if (panel.hidden) insets = { right: 0, bottom: 0 };
  else if (beside) insets = { right: document.documentElement.clientWidth - box.left, bottom: 0 };
  else insets = { right: 0, bottom: window.innerHeight - box.top };
  const dialog = $("viewer");
  dialog.style.setProperty("--viewer-right", `${insets.right}px`);
  dialog.style.setProperty("--viewer-bottom", `${insets.bottom}px`);
  detailsButton?.setAttribute("aria-expanded", String(!panel.hidden));
  return insets.right !== before.right || insets.bottom !== before.bottom;
}

function relayout() {
  if (measurePanel()) lightbox?.pswp?.updateSize(true);
}

function togglePanel() {
  panelChosen = $("viewer-panel").hidden;
  relayout();
}

function showCurrent(pswp) {
  const slide = pswp.currSlide;
  if (!slide) return;
  shown = slide.data.image;
  hooks.describe(shown);
  // The photo on screen answers to #viewer-image, whichever of PhotoSwipe's slides holds it.
  shownElement?.removeAttribute("id");
  shownElement = slide.content.element || null;
  shownElement?.setAttribute("id", "viewer-image");
  relayout(); // under the photo, the panel is as tall as this photo's details
}

function usePicture(content) {
  // A <picture> around PhotoSwipe's <img>, so the browser takes the AVIF where it can (PhotoSwipe's
  // own recipe for <picture>): PhotoSwipe goes on sizing the <img> and setting its srcset and
  // `sizes` (the width shown); each <source> is given the same `sizes` (sizeSources).
  const picture = document.createElement("picture");
  for (const { type, files } of content.data.sources) {
    const source = document.createElement("source");
    source.type = type;
    source.srcset = srcset(files);
    picture.append(source);
  }
  const img = document.createElement("img");
  img.className = "pswp__img";
  img.dataset.id = content.data.image.id;
  picture.append(img);
  content.element = img;
  content.pictureElement = picture;
}

function sizeSources(content, sizes) {
  content.pictureElement?.querySelectorAll("source").forEach((source) => { source.sizes = sizes; });
}

const onBackground = (event) =>
  event.target.classList.contains("pswp__item") || event.target.classList.contains("pswp__zoom-wrap");

function makeLightbox(PhotoSwipeLightbox, PhotoSwipe) {
  const made = new PhotoSwipeLightbox({
    pswpModule: PhotoSwipe,
    appendToEl: $("viewer-stage"),
    bgOpacity: 1,
    loop: false, // the gallery has a first and a last photo (and more pages after the last)
    trapFocus: false, // the modal <dialog> keeps the focus, and the panel's buttons are in it
    returnFocus: false, // to the tile of the photo on screen, which may not be the one that opened
    getViewportSizeFn: () => ({
      x: document.documentElement.clientWidth - insets.right,
      y: window.innerHeight - insets.bottom,
    }),
    // A touch on the photo shows or hides the buttons; outside it, closes, as a click does.
    tapAction(point, event) {
      if (onBackground(event)) this.close();
      else this.element.classList.toggle("pswp--ui-visible");
    },
    arrowPrevTitle: "Previous photo",
    arrowNextTitle: "Next photo",
    closeTitle: "Close",
    zoomTitle: "Zoom",
  });
  made.on("uiRegister", () => {
    const { pswp } = made;
    pswp.element.removeAttribute("role"); // the <dialog> around it is the dialog
    pswp.scrollWrap.setAttribute("aria-label", "Photos");
    pswp.ui.registerElement({
      name: "details",
      title: "Details",
      order: 15, // after zoom, before close
      isButton: true,
      html: DETAILS_ICON,
      onInit: (el) => {
        detailsButton = el;
        el.setAttribute("aria-controls", "viewer-panel");
        el.setAttribute("aria-expanded", String(!$("viewer-panel").hidden));
      },
      onClick: togglePanel,
    });
  });
  made.on("afterInit", () => {
    made.pswp.element.focus({ preventScroll: true });
    extendNearTheEnd(made.pswp); // opened on one of the last photos loaded
  });
  made.on("change", () => {
    showCurrent(made.pswp);
    extendNearTheEnd(made.pswp);
  });
  made.on("keydown", (e) => { if (deleting) e.preventDefault(); });
  // A press on a button is the button's: not a tap on the photo (which would swallow the next tap
  // as half of a double tap), nor the start of a drag.
  made.on("pointerDown", (e) => { if (e.originalEvent.target.closest("button")) e.preventDefault(); });
  made.on("contentLoad", (e) => {
    if (e.content.data.sources?.length) {
      e.preventDefault();
      usePicture(e.content);
    }
  });
  // Before the <img> is given its files (a slide preloaded before PhotoSwipe opens has no
  // imageSizeChange), then as it grows (zoomed in).
  made.on("contentLoadImage", ({ content }) => sizeSources(content, `${content.displayedImageWidth}px`));
  made.on("imageSizeChange", ({ content }) => sizeSources(content, content.element.sizes));
  made.on("contentAppendImage", (e) => {
    const { content } = e;
    if (!content.pictureElement) return;
    e.preventDefault();
    if (!content.pictureElement.parentNode) content.slide.container.append(content.pictureElement);
  });
  made.on("contentRemove", (e) => {
    const { content } = e;
    if (!content.pictureElement) return;
    e.preventDefault();
    content.pictureElement.remove();
    content.placeholder?.element?.remove();
  });
  made.on("loadError", ({ content }) => renew(made.pswp, content.data));
  // Every slide's placeholder is its tile's image when the tile has it (PhotoSwipe: the first only).
  made.addFilter("placeholderSrc", (src, content) => src || content.data.msrc || false);
  // A tile gone (deleted) has nothing to zoom from or to: the lightbox fades instead.
  made.addFilter("thumbEl", (el) => (el && el.isConnected ? el : undefined));
  made.on("close", () => {
    const { pswp } = made;
    leaving = { items: pswp.options.dataSource, index: pswp.currIndex };
    // The photo zooms back into its tile: in view first.
    pswp.currSlide?.data.element.scrollIntoView({ block: "nearest" });
  });
  made.on("destroy", () => {
    if ($("viewer").open) $("viewer").close();
  });
  return made;
}

async function renew(pswp, data) {
  // A URL held too long fails (presigned URLs expire, a re-render replaces the files): once per
  // photo, the image is asked for again and its slide shows the current URLs.
  if (!pswp || data.renewed) return;
  const fresh = await hooks.refresh(data.image);
  const index = pswp.options.dataSource.indexOf(data);
  if (!fresh || !largestRendition(fresh) || lightbox.pswp !== pswp || index < 0) return;
  pswp.options.dataSource[index] = { ...slideOf({ image: fresh, tile: data.element }), renewed: true };
  pswp.refreshSlideContent(index);
}

const AHEAD = 2; // photos left before the last loaded one when the gallery's next page is asked for

async function extendNearTheEnd(pswp) {
  // Stepping on past the last photo loaded: the gallery loads its next page, and its photos join
  // the lightbox after the ones it has (PhotoSwipe takes slides added to its data source).
  if (!hooks?.more || extending === pswp || pswp.currIndex < pswp.getNumItems() - 1 - AHEAD) return;
  extending = pswp;
  try {
    const photos = await hooks.more();
    if (lightbox?.pswp !== pswp) return; // closed meanwhile
    const items = pswp.options.dataSource;
    const known = new Set(items.map((item) => item.image.id));
    const added = photos.filter(({ image }) => !known.has(image.id)).map(slideOf);
    if (!added.length) return;
    items.push(...added);
    for (let i = items.length - added.length; i < items.length; i++) pswp.refreshSlideContent(i);
    pswp.dispatch("change"); // the next button, the counter (and, near the end again, the next page)
  } finally {
    if (extending === pswp) extending = null;
  }
}

function tileToFocus() {
  // The tile of the photo on screen, else (deleted) the nearest one after it, else before it.
  if (!leaving) return null;
  const { items, index } = leaving;
  const near = [...items.slice(index), ...items.slice(0, index).reverse()];
  return near.map((item) => item.element).find((tile) => tile.isConnected) || null;
}

function afterOpening(pswp, then) {
  // PhotoSwipe neither closes nor listens to keys until its opening animation is over.
  if (pswp.opener.isOpen) then();
  else pswp.on("openingAnimationEnd", then);
}

function dropShown(pswp) {
  // The deleted photo leaves the lightbox: the next one takes its place, or the lightbox closes.
  const items = pswp.options.dataSource;
  const at = pswp.currIndex;
  items.splice(at, 1);
  if (at >= items.length) {
    pswp.close();
    return;
  }
  // PhotoSwipe keeps slides by index, and from here on each index names the next photo.
  for (let i = at; i <= items.length; i++) pswp.contentLoader.removeByIndex(i);
  pswp.refreshSlideContent(at);
  pswp.refreshSlideContent(at + 1);
}

async function deleteShown() {
  const pswp = lightbox?.pswp;
  if (!shown || deleting) return;
  deleting = true;
  $("viewer-stage").inert = true; // no stepping away from the photo being deleted
  let deleted = false;
  try {
    deleted = await hooks.remove(shown);
  } finally {
    deleting = false;
    $("viewer-stage").inert = false;
  }
  if (!deleted || !$("viewer").open) return;
  if (pswp && lightbox.pswp === pswp) afterOpening(pswp, () => dropShown(pswp));
  else $("viewer").close();
}

export async function openLightbox(photos, index, openerHooks) {
  // photos: the gallery's processed photos in its order, each { image, tile }; index: the one to show.
  const dialog = $("viewer");
  if (dialog.open || !photos[index]) return;
  const [PhotoSwipeLightbox, PhotoSwipe] = await Promise.all([lightboxLoaded, loadCore()]);
  if (dialog.open) return; // opened meanwhile (a double click)
  const viewer = PhotoSwipeLightbox && PhotoSwipe;
  hooks = openerHooks;
  leaving = null;
  shown = photos[index].image;
  hooks.describe(shown);
  dialog.classList.toggle("plain", !viewer);
  dialog.showModal();
  if (!viewer) {
    leaving = { items: photos.map(({ tile }) => ({ element: tile })), index };
    $("viewer-panel").hidden = false; // no photo to look at: its details, at least
    return;
  }
  measurePanel();
  lightbox ||= makeLightbox(PhotoSwipeLightbox, PhotoSwipe);
  lightbox.loadAndOpen(index, photos.map(slideOf));
}

export function closeLightbox() {
  lightbox?.pswp?.destroy();
  if ($("viewer").open) $("viewer").close();
}

export function wireLightbox() {
  const dialog = $("viewer");
  dialog.addEventListener("cancel", (event) => {
    // Esc (PhotoSwipe's own handler takes it once the lightbox is open): PhotoSwipe closes, with
    // its animation; the dialog closes when it is done.
    const pswp = lightbox?.pswp;
    if (!pswp) return;
    event.preventDefault();
    if (!deleting) afterOpening(pswp, () => pswp.close());
  });
  dialog.addEventListener("close", () => {
    lightbox?.pswp?.destroy(); // closed some other way (signed out meanwhile)
    shownElement?.removeAttribute("id");
    shown = shownElement = null;
    tileToFocus()?.focus();
    leaving = null;
  });
  $("viewer-delete").addEventListener("click", deleteShown);
  window.addEventListener("resize", () => { if (dialog.open && lightbox?.pswp) relayout(); });
}
