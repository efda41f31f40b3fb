// Marks the page as having JavaScript and starts the GOV.UK Frontend components. A file, never inline:
// the gateway's Content-Security-Policy allows scripts from 'self' only. Pages work without it.
import { initAll, isSupported } from '/assets/govuk-frontend.min.js';

document.body.classList.add('js-enabled');
if (isSupported()) {
  document.body.classList.add('govuk-frontend-supported');
  initAll();
}
