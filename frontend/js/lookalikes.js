// Photos that look alike (docs/duplicates.md#near-duplicates): a processed photo whose record lists
// others of the person's in `similarTo` (re-encoded, resized or rotated copies: the API finds them)
// gets a "Looks like N" button on its tile. It opens a dialog with the group, that photo and each one
// it lists, the photo whose button it was chosen to keep at first; "Keep the chosen one, delete the
// others" deletes the others in that one step, with the Undo every delete has (js/deletion.js).
// Nothing is deleted without it. A tile that leaves the page (deleted, or waiting for its Undo) no
// longer counts on the others' buttons; Undo brings it back to them.

import { api } from "./api.js";
import { deleteWithUndo } from "./deletion.js";
import { makePicture } from "./picture.js";
import { $, announce, formatBytes } from "./ui.js";

const seen = new Set(); // ids whose tiles have been on the page: one no longer there is leaving
let recordOf = () => null; // the gallery's processed records, by id (js/gallery.js)
let group = []; // the records the dialog offers
let opener = null; // the button that opened it: the focus goes back there

function tileOf(id) {
  return $("gallery").querySelector(`li.tile[data-id="${CSS.escape(id)}"]`);
}

function lookalikes() {
  // Each shown photo's look-alikes: those its record lists and those whose records list it (a record
  // read before its copy was processed does not name the copy yet), but those whose tiles left the
  // page; a photo on a page not loaded yet counts.
  const tiles = [...$("gallery").querySelectorAll("li.tile[data-id]")];
  const shown = new Set(tiles.map((li) => li.dataset.id));
  shown.forEach((id) => seen.add(id));
  const alike = new Map();
  const pair = (a, b) => (shown.has(b) || !seen.has(b)) && alike.set(a, (alike.get(a) || new Set()).add(b));
  for (const id of shown) {
    for (const other of recordOf(id)?.similarTo || []) {
      pair(id, other);
      pair(other, id);
    }
  }
  return alike;
}

function recount() {
  // Tiles came or went (a page loaded, an upload processed, a delete, its Undo): each processed
  // photo's tile has its button while it has look-alikes, saying how many. Written only where it
  // changes: this observer hears its own changes too.
  const alike = lookalikes();
  for (const li of $("gallery").querySelectorAll("li.tile[data-id]")) {
    const image = li.querySelector(":scope > .tile-button") && recordOf(li.dataset.id);
    const count = image ? alike.get(image.id)?.size || 0 : 0;
    let button = li.querySelector(":scope > .tile-alike");
    if (!count) {
      button?.remove();
      continue;
    }
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "tile-alike";
      button.addEventListener("click", () => openGroup(li.dataset.id, button));
      li.append(button);
    }
    const label = `${image.filename} looks like ${count} other photo${count === 1 ? "" : "s"}: choose one to keep`;
    if (button.getAttribute("aria-label") !== label) {
      button.textContent = `Looks like ${count}`;
      button.setAttribute("aria-label", label);
    }
  }
}

async function openGroup(id, button) {
  // The group as the API says it now: a look-alike not loaded on the page yet is asked for.
  opener = button;
  const ids = [id, ...(lookalikes().get(id) || [])];
  const found = await Promise.all(
    ids.map((each) => recordOf(each) || api(`/images/${encodeURIComponent(each)}`).catch(() => null)),
  );
  group = found.filter((record) => record?.status === "processed");
  if (group.length < 2) {
    announce("The photos it looked like are gone.");
    return;
  }
  $("lookalikes-list").replaceChildren(...group.map(choice));
  $("lookalikes-list").querySelector("input").checked = true;
  sayKeep();
  $("lookalikes").showModal();
  $("lookalikes-list").querySelector("input:checked").focus();
}

function choice(image) {
  // One photo of the group: a radio button named by its file, with its picture and what it is.
  const li = document.createElement("li");
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "radio";
  input.name = "keep";
  input.value = image.id;
  input.addEventListener("change", sayKeep);
  const { picture } = makePicture(image, { alt: "", sizes: "160px", lazy: false });
  const name = document.createElement("span");
  name.className = "alike-name";
  name.textContent = image.filename;
  const about = document.createElement("span");
  about.className = "alike-about";
  about.textContent = [`${image.width}×${image.height}`, formatBytes(image.bytes), image.format].filter(Boolean).join(", ");
  label.append(input, picture, name, about);
  li.append(label);
  return li;
}

function chosen() {
  return group.find((image) => image.id === $("lookalikes-list").querySelector("input:checked")?.value);
}

function sayKeep() {
  const others = group.length - 1;
  $("lookalikes-keep").textContent = `Keep ${chosen().filename}, delete ${others === 1 ? "the other" : `the other ${others}`}`;
}

function keepChosen() {
  // The one step: the others leave at once, their DELETEs wait for the Undo's delay.
  const kept = chosen();
  const others = group.filter((image) => image !== kept);
  opener = null;
  $("lookalikes").close();
  const name = others.length === 1 ? others[0].filename : `${others.length} photos like ${kept.filename}`;
  deleteWithUndo(others.map(({ id, filename }) => ({ id, filename })), { name, moveFocus: false });
  (tileOf(kept.id)?.querySelector(".tile-button") || $("gallery-heading")).focus();
}

export function forgetLookalikes() {
  // The gallery starts again (another view, another person): no tile has left it.
  seen.clear();
}

export function wireLookalikes(lookup) {
  recordOf = lookup;
  new MutationObserver(recount).observe($("gallery"), { childList: true, subtree: true });
  $("lookalikes-keep").addEventListener("click", keepChosen);
  $("lookalikes-cancel").addEventListener("click", () => $("lookalikes").close());
  $("lookalikes").addEventListener("close", () => {
    if (opener?.isConnected) opener.focus();
    opener = null;
  });
}
