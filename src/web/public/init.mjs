// Marks the page as having JavaScript and starts the GOV.UK Frontend components. A file, never inline:
// the gateway's Content-Security-Policy allows scripts from 'self' only. Pages work without it.
import { initAll, isSupported } from '/assets/govuk-frontend.min.js';

document.body.classList.add('js-enabled');
if (isSupported()) {
  document.body.classList.add('govuk-frontend-supported');
  initAll();
}

// "Print or save this answer" and "Copy reference" (the page works without them: print from the browser, select the text).
for (const button of document.querySelectorAll('[data-module="app-print"]')) {
  button.addEventListener('click', () => window.print());
}
for (const button of document.querySelectorAll('[data-module="app-copy"]')) {
  button.addEventListener('click', async () => {
    const target = document.getElementById(button.getAttribute('data-copy-target') ?? '');
    if (!target || !navigator.clipboard) return;
    await navigator.clipboard.writeText(target.textContent.trim());
    button.textContent = 'Reference copied';
  });
}
