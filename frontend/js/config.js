// The site's configuration, /config.json (written by the deploy): the API, the sign-in service,
// the accepted types and limits. Read once, at start; the other modules read it from here.

export let config = null;

export async function loadConfig() {
  const response = await fetch("config.json");
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const loaded = await response.json();
  if (!loaded.auth || !loaded.auth.endpoint || !loaded.auth.clientId) {
    throw new Error("config.json names no sign-in service");
  }
  config = loaded;
}
