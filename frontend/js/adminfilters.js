// The admin's filters over everyone's photos ("All users"): by status, a row of radio buttons each
// with how many photos have it ("Failed (3)": GET /admin/counts, which stops counting at 1000:
// "1000+"), and by owner, from the owner button on any tile ("Show only x@y's photos"), shown as a
// chip, "Photos by x@y" with Clear. gallery.js asks for the listing with them (adminFilters) and
// loads it again from its first page when they change; the counts are asked again with it, and
// after deletes. One polite announcement says what is shown ("Showing 3 failed photos.").

import { api } from "./api.js";
import { $, announce } from "./ui.js";

let reload = null; // gallery.js: the listing again from its first page, with the filters as they are
let owner = null; // { id, email }: one person's photos only
let counts = null; // the latest answer of GET /admin/counts
let countsAsked = 0; // the latest request for them; an older answer is dropped

const statusInputs = () => [...$("status-filter").querySelectorAll("input[name=status-filter]")];
const chosenStatus = () => statusInputs().find((input) => input.checked)?.value || "";

export function adminFilters() {
  // The listing's query parameters for the filters on now: { status, owner }, each only when set.
  const status = chosenStatus();
  return { ...(status && { status }), ...(owner && { owner: owner.id }) };
}

export function ownerFiltered() {
  // One person's photos: listed in their own gallery's order (by the day each was taken).
  return Boolean(owner);
}

function said(count) {
  return count ? `${count.count}${count.more ? "+" : ""}` : "";
}

function showCounts() {
  // Each status's label with its count (none while unknown); All: their sum.
  const all = counts && Object.values(counts).reduce(
    (sum, c) => ({ count: sum.count + c.count, more: sum.more || c.more }), { count: 0, more: false },
  );
  for (const input of statusInputs()) {
    const count = input.value ? counts?.[input.value] : all;
    input.closest("label").querySelector(".status-count").textContent = count ? ` (${said(count)})` : "";
  }
}

async function refreshCounts() {
  const mine = ++countsAsked;
  try {
    const answer = await api("/admin/counts");
    if (mine === countsAsked) counts = answer;
  } catch {
    if (mine === countsAsked) counts = null; // the labels without counts; the listing says any error
  }
  if (mine === countsAsked) showCounts();
}

function describeShown() {
  const status = chosenStatus();
  const by = owner ? ` by ${owner.email}` : "";
  if (!status) return owner ? `Showing photos${by}.` : "Showing everyone’s photos.";
  const count = owner ? "" : said(counts?.[status]);
  return `Showing ${count ? `${count} ` : ""}${status} photos${by}.`;
}

function markStatus() {
  // Failed only: "Hide failed" would leave an empty gallery, so it steps aside (style.css).
  const status = chosenStatus();
  $("gallery").toggleAttribute("data-status-filter", Boolean(status));
  if (status) $("gallery").dataset.statusFilter = status;
  $("hide-failed").disabled = status === "failed";
}

async function filtersChanged() {
  // The listing from its first page and the counts, then one announcement of what is shown.
  markStatus();
  await Promise.all([reload(), refreshCounts()]);
  announce(describeShown());
}

function showOwner() {
  $("owner-filter").hidden = !owner;
  $("owner-filter-name").textContent = owner ? owner.email : "";
}

export function filterByOwner(id, email) {
  // A tile's owner button: that person's photos only; the focus goes to the chip that says so.
  if (owner?.id !== id) {
    owner = { id, email: email || id };
    showOwner();
    filtersChanged();
  }
  $("owner-filter-clear").focus();
}

function clearOwner() {
  owner = null;
  showOwner();
  $("gallery-heading").focus(); // the chip is gone
  filtersChanged();
}

export function showAdminFilters(on) {
  // With "All users" on: the filters, and their counts asked afresh (the listing is loaded again
  // with them). Off: gone, and reset for the next time.
  $("admin-filters").hidden = !on;
  if (on) {
    refreshCounts();
    return;
  }
  owner = null;
  counts = null;
  countsAsked++;
  showOwner();
  statusInputs().forEach((input) => { input.checked = input.value === ""; });
  markStatus();
  showCounts();
}

export function wireAdminFilters(loadFirstPage) {
  reload = loadFirstPage;
  $("status-filter").addEventListener("change", filtersChanged);
  $("owner-filter-clear").addEventListener("click", clearOwner);
  // A delete sent (js/deletion.js, once its Undo is over): the counts change with it.
  document.addEventListener("imagepipe:deleted", () => {
    if (!$("admin-filters").hidden) refreshCounts();
  });
}
