// Buttons of the reconnect dialog (Components/Layout/ReconnectModal.razor): the CSP allows no inline handlers.
const modal = () => document.getElementById('components-reconnect-modal');

async function retry() {
  const blazor = window.Blazor;
  if (!blazor) {
    window.location.reload();
    return;
  }
  try {
    // A paused circuit (the browser put the tab to sleep) resumes; a dropped connection reconnects.
    const paused = modal()?.matches('.components-reconnect-paused, .components-reconnect-resume-failed');
    const ok = paused ? await blazor.resumeCircuit() : await blazor.reconnect();
    // false: the server no longer holds the circuit; a reload rebuilds the view from the URL.
    if (!ok) window.location.reload();
  } catch {
    window.location.reload();
  }
}

document.addEventListener('click', (event) => {
  if (event.target.closest('#components-reconnect-button')) retry();
  else if (event.target.closest('#components-reload-button')) window.location.reload();
});
