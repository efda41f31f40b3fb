/**
 * The development IdP's sign-in page, in the GOV.UK style (system fonts, no external requests, no debug output,
 * WCAG AA contrast): it replaces oidc-provider's devInteractions login form, which posts to the same place. Only the
 * login prompt is rendered here; anything else is left to oidc-provider.
 */
import type { NextFunction, Request, Response } from 'express';
import type Provider from 'oidc-provider';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font-family:Arial,"Helvetica Neue",Helvetica,sans-serif;color:#0b0c0c;background:#fff;font-size:19px;line-height:1.32}
header{background:#0b0c0c;color:#fff;padding:12px 0;border-bottom:10px solid #1d70b8}
.w{max-width:960px;margin:0 15px}@media(min-width:990px){.w{margin:0 auto}}
header strong{font-size:24px}header span{display:block;font-size:16px}
main{padding:30px 0 60px}h1{font-size:36px;margin:0 0 20px}
.tag{display:inline-block;background:#fcd6c3;color:#6e3619;font-weight:700;padding:2px 8px;font-size:16px;margin-bottom:15px}
label{display:block;font-weight:700;margin:20px 0 5px}
input[type=text],input[type=password]{display:block;width:100%;max-width:440px;font-size:19px;padding:5px;border:2px solid #0b0c0c;height:40px}
input:focus{outline:3px solid #ffdd00;outline-offset:0;box-shadow:inset 0 0 0 2px #0b0c0c}
button{display:block;margin-top:30px;background:#00703c;color:#fff;border:0;box-shadow:0 2px 0 #002d18;font-size:19px;padding:8px 10px 7px;cursor:pointer}
button:focus{outline:3px solid transparent;background:#ffdd00;color:#0b0c0c;box-shadow:0 2px 0 #0b0c0c}
.hint{color:#484949;font-size:16px;margin:0}
.error{border:5px solid #d4351c;padding:15px 20px;margin-bottom:20px}.error h2{margin:0 0 10px;font-size:24px}
.error p{color:#d4351c;font-weight:700;margin:0}
`;

export function loginPage(input: {
  readonly agencyName: string;
  readonly action: string;
  readonly login?: string;
  readonly error?: string;
}): string {
  const error = input.error
    ? `<div class="error" role="alert" tabindex="-1"><h2>There is a problem</h2><p>${escapeHtml(input.error)}</p></div>`
    : '';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${input.error ? 'Error: ' : ''}Sign in – ${escapeHtml(input.agencyName)} (development)</title><style>${STYLE}</style></head>
<body><header><div class="w"><strong>${escapeHtml(input.agencyName)}</strong><span>Development sign-in service</span></div></header>
<main class="w" id="main-content"><span class="tag">Development only</span>${error}
<h1>Sign in</h1>
<p class="hint">Use a demo account of ${escapeHtml(input.agencyName)} from config/devidp.json (the demo password is northshire-demo).</p>
<form method="post" action="${escapeHtml(input.action)}" autocomplete="off" novalidate>
<input type="hidden" name="prompt" value="login">
<label for="login">Email address</label><input type="text" id="login" name="login" value="${escapeHtml(input.login ?? '')}" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label><input type="password" id="password" name="password" required>
<button type="submit">Sign in</button>
</form></main></body></html>`;
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

export function sendLoginPage(res: Response, status: number, page: string): void {
  res.status(status).setHeader('Content-Security-Policy', CSP).setHeader('Cache-Control', 'no-store').type('html').send(page);
}

/** GET /interaction/:uid with the login prompt: this page instead of oidc-provider's development form. */
export function loginPageRoute(provider: Provider, agencyName: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.method !== 'GET' || !/^\/interaction\/[A-Za-z0-9_-]+\/?$/.test(req.path)) return next();
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') return next();
      sendLoginPage(res, 200, loginPage({ agencyName, action: `${req.baseUrl}${req.path.replace(/\/$/, '')}` }));
    } catch {
      next();
    }
  };
}
