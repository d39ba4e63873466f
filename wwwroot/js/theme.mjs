// Remembers the light/dark choice for a year. A cookie rather than localStorage: the server reads it, so
// the prerendered first paint already has the chosen palette.
export function save(theme) {
  const secure = window.location.protocol === 'https:' ? '; secure' : '';
  document.cookie = `ud_theme=${encodeURIComponent(theme)}; path=/; max-age=31536000; samesite=lax${secure}`;
}

// The circuit is up and the page reacts: marked for tests and for styles that need it.
export function markInteractive() {
  document.body.dataset.circuit = 'up';
}
