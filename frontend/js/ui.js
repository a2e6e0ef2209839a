// What every part of the page shares: its elements by id, the live status line, the notice,
// and how errors and sizes read to people.

export const $ = (id) => document.getElementById(id);

export function describeError(error) {
  // The server's messages are written for people; the code is for programs.
  return error && error.message ? error.message : "Something went wrong.";
}

export function formatBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

export function isTyping(target) {
  // A key pressed in a field is the field's: the page's own shortcuts leave it alone.
  return target instanceof Element
    && target.matches("input:not([type=checkbox], [type=radio], [type=button]), textarea, select, [contenteditable]");
}

export function announce(text) {
  $("status").textContent = text;
}

export function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}
