// Light/dark theme: follows the system until the user picks one, then remembers the choice.
const KEY = 'usage-dashboard-theme';
const root = document.documentElement;

function preferred() {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function apply(theme) {
  root.setAttribute('data-bs-theme', theme);
  for (const label of document.querySelectorAll('[data-theme-label]')) {
    label.textContent = theme === 'dark' ? 'Light' : 'Dark';
  }
  document.dispatchEvent(new CustomEvent('themechange', { detail: theme }));
}

apply(preferred());
document.addEventListener('DOMContentLoaded', () => apply(preferred()));
document.addEventListener('click', (event) => {
  const toggle = event.target.closest('[data-theme-toggle]');
  if (!toggle) return;
  const next = root.getAttribute('data-bs-theme') === 'dark' ? 'light' : 'dark';
  localStorage.setItem(KEY, next);
  apply(next);
});
