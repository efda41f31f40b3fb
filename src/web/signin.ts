/**
 * Sign-in: OpenID Connect authorization code + PKCE at the practitioner's OWN agency's issuer (openid-client 6).
 *
 *   GET  /sign-in        "Which organisation are you from?" (the agencies in the trust registry that have a web client)
 *   POST /sign-in        (CSRF) → PKCE verifier, state and nonce in the session → redirect to that agency's issuer
 *   GET  /auth/callback  code → tokens (client_secret_basic, PKCE, state and nonce checked) → the access token is
 *                        verified by the API's TokenVerifier → a NEW session id holds it → back where they were going
 *   POST /sign-out       (CSRF) the session is destroyed
 */
import { Router, type Request, type Response } from 'express';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/token-verifier';
import type { WebClient } from '../auth/web-clients';
import { importJWK, type CryptoKey } from 'jose';
import { csrf, verifyAccessToken, SESSION_COOKIE, webPrincipal } from './session';
import type { Renderer } from './views';
import { pageContext, type WebAgency } from './page';

export type { WebClient } from '../auth/web-clients';

export interface OidcOptions {
  /** The callback registered at every agency's issuer, e.g. http://127.0.0.1:8080/auth/callback. */
  readonly redirectUri: string;
  /** Each agency's web client at its own issuer; undefined → that agency cannot sign in to the pages. */
  readonly clientFor: (agencyId: string) => WebClient | undefined;
  /** The resource indicator for the gateway's access tokens (the API audience). */
  readonly audience: string;
  /**
   * Scopes to ask for (default `openid profile decisions records:read audit:read`; each issuer grants only what the
   * client may have). Authorisation uses what the token grants.
   */
  readonly scope?: string;
  /** Plain-http issuers: the development IdP only. */
  readonly allowInsecureIssuers: boolean;
}

interface SignInDeps {
  readonly agencies: readonly WebAgency[];
  readonly verifier: TokenVerifier;
  readonly oidc: OidcOptions;
  readonly render: Renderer;
  readonly logger: Logger;
}

/** The client's authentication at its provider's token endpoint: private_key_jwt with its key, or client_secret_basic. */
async function clientAuthentication(webClient: WebClient): Promise<client.ClientAuth> {
  const jwk = webClient.privateKeyJwk;
  if (jwk) {
    const key = (await importJWK(jwk, jwk.alg)) as CryptoKey;
    return client.PrivateKeyJwt(jwk.kid ? { key, kid: jwk.kid } : key);
  }
  return client.ClientSecretBasic(webClient.clientSecret ?? '');
}

/** Only local paths: never an open redirect. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || value.length > 500)
    return '/';
  return value;
}

export function signInRouter(deps: SignInDeps): Router {
  const router = Router();
  const discovered = new Map<string, Promise<client.Configuration>>();
  const signInAgencies = (): WebAgency[] => deps.agencies.filter((a) => deps.oidc.clientFor(a.id) !== undefined);

  const configurationFor = (agency: WebAgency, webClient: WebClient): Promise<client.Configuration> => {
    let found = discovered.get(agency.id);
    if (!found) {
      found = clientAuthentication(webClient).then((auth) =>
        client.discovery(new URL(agency.issuer), webClient.clientId, undefined, auth, {
          ...(deps.oidc.allowInsecureIssuers ? { execute: [client.allowInsecureRequests] } : {}),
        }),
      );
      found.catch(() => discovered.delete(agency.id));
      discovered.set(agency.id, found);
    }
    return found;
  };

  const renderChooser = (req: Request, res: Response, error?: string): void => {
    const agencies = signInAgencies();
    // The organisation form's submission redirects to the chosen agency's issuer: allow those origins as form targets.
    allowFormActionTo(
      res,
      agencies.map((a) => a.issuer),
    );
    res.status(error ? 400 : 200).send(
      deps.render('sign-in.njk', {
        ...pageContext(req, res, { pageTitle: 'Which organisation are you from?', backLink: '/' }),
        agencies: agencies.map((a) => ({ value: a.id, text: a.name, hint: { text: a.area ? `${a.area}` : a.id } })),
        ...(error ? { errors: [{ text: error, href: '#agency' }], agencyError: error } : {}),
      }),
    );
  };

  router.get('/sign-in', (req, res) => {
    if (webPrincipal(res)) return res.redirect(303, safeReturnTo(req.session.returnTo ?? '/'));
    renderChooser(req, res);
  });

  router.post('/sign-in', csrf.csrfSynchronisedProtection, async (req, res) => {
    const agencyId = (req.body as Record<string, unknown> | undefined)?.agency;
    const agency = signInAgencies().find((a) => a.id === agencyId);
    const webClient = agency ? deps.oidc.clientFor(agency.id) : undefined;
    if (!agency || !webClient) return renderChooser(req, res, 'Select the organisation you work for');
    let config: client.Configuration;
    try {
      config = await configurationFor(agency, webClient);
    } catch (err) {
      deps.logger.warn({ err, agency: agency.id }, 'OpenID discovery failed for sign-in');
      return res.status(503).send(
        deps.render('message.njk', {
          ...pageContext(req, res, { pageTitle: 'Sign-in is not available' }),
          heading: 'Sign-in is not available',
          paragraphs: [`${agency.name}'s sign-in service could not be reached. Try again in a few minutes.`],
        }),
      );
    }
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    req.session.login = { agencyId: agency.id, state, nonce, codeVerifier, returnTo: safeReturnTo(req.session.returnTo ?? '/') };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: deps.oidc.redirectUri,
      scope: webClient.scope ?? deps.oidc.scope ?? 'openid profile decisions records:read audit:read',
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      resource: deps.oidc.audience,
      // Every sign-in authenticates the practitioner at their agency: no silent reuse of an earlier IdP session.
      prompt: 'login',
    });
    req.session.save((err) => {
      if (err) return res.status(500).send('Could not start sign-in');
      res.redirect(303, url.href);
    });
  });

  router.get('/auth/callback', async (req, res) => {
    const login = req.session.login;
    const failed = (status: number, paragraph: string): void => {
      res.status(status).send(
        deps.render('message.njk', {
          ...pageContext(req, res, { pageTitle: 'You could not be signed in' }),
          heading: 'You could not be signed in',
          paragraphs: [paragraph],
          link: { href: '/sign-in', text: 'Sign in again' },
        }),
      );
    };
    if (!login) return failed(400, 'Your sign-in took too long or was started in another window. Start again.');
    delete req.session.login;
    const agency = deps.agencies.find((a) => a.id === login.agencyId);
    const webClient = agency ? deps.oidc.clientFor(agency.id) : undefined;
    if (!agency || !webClient) return failed(400, 'Your organisation can no longer sign in here.');

    let accessToken: string;
    let name: string | undefined;
    try {
      const config = await configurationFor(agency, webClient);
      const currentUrl = new URL(deps.oidc.redirectUri);
      currentUrl.search = new URL(req.originalUrl, 'http://callback.invalid').search;
      const tokens = await client.authorizationCodeGrant(
        config,
        currentUrl,
        { pkceCodeVerifier: login.codeVerifier, expectedState: login.state, expectedNonce: login.nonce, idTokenExpected: true },
        { resource: deps.oidc.audience },
      );
      accessToken = tokens.access_token;
      const claims = tokens.claims();
      const given = claims?.[webClient.nameClaim ?? 'name'];
      if (typeof given === 'string' && given.length > 0) name = given.slice(0, 100);
    } catch (err) {
      const code = typeof err === 'object' && err !== null ? (err as { error?: unknown }).error : undefined;
      deps.logger.warn({ err, agency: agency.id }, 'sign-in callback failed');
      return failed(
        code === 'access_denied' ? 403 : 400,
        code === 'access_denied'
          ? 'Sign-in was cancelled at your organisation.'
          : 'Your organisation’s sign-in service did not confirm who you are. Start again.',
      );
    }

    // The same trust path as the API: the token must verify, and be this agency's.
    const principal = await verifyAccessToken(deps.verifier, accessToken);
    if (!principal || principal.agency.id !== agency.id) {
      deps.logger.warn({ agency: agency.id }, 'sign-in token refused by the token verifier');
      return failed(
        403,
        'Your organisation’s sign-in worked, but the gateway does not accept your account for this service. Ask your administrator.',
      );
    }

    // A fresh session id at sign-in (no session fixation); only what is needed is carried over.
    req.session.regenerate((err) => {
      if (err) return failed(500, 'Your session could not be started. Try again.');
      req.session.auth = { agencyId: agency.id, agencyName: agency.name, accessToken, ...(name ? { name } : {}) };
      req.session.save((saveErr) => {
        if (saveErr) return failed(500, 'Your session could not be started. Try again.');
        res.redirect(303, login.returnTo);
      });
    });
  });

  router.post('/sign-out', csrf.csrfSynchronisedProtection, (req, res) => {
    req.session.destroy(() => {
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.redirect(303, '/signed-out');
    });
  });

  router.get('/signed-out', (req, res) => {
    res.send(
      deps.render('message.njk', {
        ...pageContext(req, res, { pageTitle: 'You have signed out' }),
        heading: 'You have signed out',
        paragraphs: ['Close this window if you are using a shared computer.'],
        link: { href: '/sign-in', text: 'Sign in again' },
      }),
    );
  });

  return router;
}

/** Adds origins to the page's Content-Security-Policy form-action (helmet sets `form-action 'self'`). */
function allowFormActionTo(res: Response, urls: readonly string[]): void {
  const header = res.getHeader('Content-Security-Policy');
  if (typeof header !== 'string') return;
  const origins = [
    ...new Set(
      urls
        .map((u) => {
          try {
            return new URL(u).origin;
          } catch {
            return '';
          }
        })
        .filter((o) => o !== ''),
    ),
  ];
  if (origins.length === 0) return;
  const directives = header
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  const index = directives.findIndex((d) => d.toLowerCase().startsWith('form-action'));
  if (index < 0) return; // no form-action: nothing restricts the form
  directives[index] = `${directives[index]} ${origins.join(' ')}`;
  res.setHeader('Content-Security-Policy', directives.join(';'));
}
