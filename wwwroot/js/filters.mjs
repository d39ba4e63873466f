// Filter forms submit themselves when a choice changes, so the URL always describes what is shown.
function onChange(event) {
  const form = event.target.closest('form[data-auto-submit]');
  if (!form) return;
  // Picking a preset range clears a custom from/to, which would otherwise override it.
  if (event.target.name === 'range' && event.target.value) {
    for (const name of ['from', 'to']) {
      const input = form.elements.namedItem(name);
      if (input) input.value = '';
    }
  }
  // Leave empty fields out of the URL: shorter links, same view.
  for (const el of form.elements) {
    if (el.name && el.value === '' && el.type !== 'submit') el.disabled = true;
  }
  form.submit();
}
document.addEventListener('change', onChange);
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!form.matches('form[data-auto-submit]')) return;
  for (const el of form.elements) {
    if (el.name && el.value === '' && el.type !== 'submit') el.disabled = true;
  }
});
