/**
 * oidc-provider prints warnings that are known and harmless for the bundled DEVELOPMENT identity provider (it never
 * runs in production): "Unsupported runtime" on Node 20 (it works there; this project tests on Node 20 — see the
 * README on supported Node versions), "devInteractions is enabled" (the development login flow is the point of the
 * development IdP) and "already parsed request body" (the IdP's password check reads the login form first, on
 * purpose). Imported before oidc-provider so the first one, printed as the module loads, is filtered too.
 * Every other warning is printed as before.
 */
const KNOWN_HARMLESS: readonly RegExp[] = [
  /^oidc-provider WARNING: Unsupported runtime\./,
  /^oidc-provider WARNING: a quick start development-only feature devInteractions is enabled/,
  // The login form's body is read first by the development IdP's own password check (dev-idp.ts passwordGate),
  // which hands it on as req.body: oidc-provider notices and uses it, as intended.
  /^oidc-provider WARNING: already parsed request body detected/,
];

const original = console.warn;
console.warn = (...args: unknown[]): void => {
  // oidc-provider colours its warnings on a terminal: compare without the escape codes.
  const text = args
    .map(String)
    .join(' ')
    .replace(/\x1b\[[0-9;]*m/g, '');
  if (KNOWN_HARMLESS.some((known) => known.test(text))) return;
  original(...args);
};
