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

export function announce(text) {
  $("status").textContent = text;
}

export function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}
