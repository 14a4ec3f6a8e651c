// Where the API is. The app is served at <prefix>/app/ and the API at <prefix>/api/, with a
// prefix nobody knows in advance (ML Lab's proxy), so the default is relative to the page.

/** The app's own directory URL (ends in "/"), even when opened as ".../app" or ".../index.html". */
export function appBaseUrl(): URL {
  const url = new URL(document.baseURI);
  url.hash = '';
  url.search = '';
  if (url.pathname.endsWith('/index.html')) url.pathname = url.pathname.slice(0, -'index.html'.length);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The API's base URL without a trailing slash, e.g. https://host/prefix/api. */
export function apiBaseUrl(): string {
  const configured = import.meta.env.REACT_APP_EXTENSION_ENDPOINT || '../api';
  return new URL(configured, appBaseUrl()).href.replace(/\/+$/, '');
}

/** True when the app is known to run inside ML Lab (set at build time for development). */
export function contaxyConfigured(): boolean {
  return Boolean(import.meta.env.REACT_APP_CONTAXY_ENDPOINT);
}
