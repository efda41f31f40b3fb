/** What the workflow pages share: who is signed in, how a refusal is recorded, dates in words, field labels. */
import type { NextFunction, Request, Response } from 'express';
import { actorOf } from '../../audit/actor';
import { pseudonymisedPath } from '../../audit/pseudonym';
import type { AuditLedger } from '../../audit/entry';
import type { Principal } from '../../auth/principal';
import { NotPermittedError, type RefusalError } from '../../errors';
import { refusalProblem } from '../../http/problem';
import { AGENCY_TYPE_LABELS, FIELD_LABELS, PURPOSE_LABELS, ROLE_LABELS, SUBJECT_ROLE_LABELS, labelOf } from '../../web/labels';
import { webPrincipal } from '../../web/session';

export function requireSignedIn(req: Request, res: Response, next: NextFunction): void {
  if (!webPrincipal(res)) {
    req.session.returnTo = req.originalUrl;
    return res.redirect(303, '/sign-in');
  }
  next();
}

/** As the API: the pages' token must carry the scope the route needs. */
export function requirePageScope(scope: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const p = webPrincipal(res);
    if (p && !p.scopes.has(scope))
      return next(new NotPermittedError('not_permitted', 'Your organisation has not given your account access to this.'));
    next();
  };
}

export function signedIn(res: Response): Principal {
  const p = webPrincipal(res);
  if (!p) throw new NotPermittedError('not_signed_in', 'Sign in to continue.');
  return p;
}

export function pageRequestId(res: Response): string {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : 'page';
}

/** A refusal on a page is recorded exactly as on the API (kind request_refused: who, where, which problem; no values). */
export async function recordRefusal(ledger: AuditLedger, req: Request, res: Response, refusal: RefusalError): Promise<void> {
  const p = webPrincipal(res);
  const error = refusalProblem(refusal);
  await ledger.append({
    kind: 'request_refused',
    outcome: error.code,
    requestId: pageRequestId(res),
    actor: p ? actorOf(p) : null,
    payload: {
      method: req.method,
      // No identifier in clear (a referral or request id becomes {id}), as on the API.
      path: pseudonymisedPath(req.originalUrl.split('?')[0] ?? '').path,
      status: error.status,
      problems: (error.extras.errors ?? [])
        .slice(0, 20)
        .map((x) => ({ pointer: x.pointer.slice(0, 100), word: x.word?.slice(0, 60) ?? null })),
    },
  });
}

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  hour12: true,
});
/** e.g. "Tuesday 1 December 2026 at 9:30pm" (Europe/London). */
export function inWords(iso: string | Date | null | undefined): string {
  if (!iso) return '';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  const parts = Object.fromEntries(LONDON.formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.weekday ?? ''} ${parts.day ?? ''} ${parts.month ?? ''} ${parts.year ?? ''} at ${parts.hour ?? ''}:${parts.minute ?? ''}${(parts.dayPeriod ?? '').toLowerCase().replace(/\s/g, '')}`;
}

export const fieldLabel = (f: string): string => labelOf(FIELD_LABELS, f);
export const roleLabel = (r: string | null | undefined): string => labelOf(ROLE_LABELS, r);
export const purposeLabel = (p: string): string => labelOf(PURPOSE_LABELS, p);
export const agencyTypeLabel = (t: string | null | undefined): string => labelOf(AGENCY_TYPE_LABELS, t);
export const subjectRoleLabel = (s: string): string => labelOf(SUBJECT_ROLE_LABELS, s);

/** A stored value of unknown type as plain text: never "[object Object]". */
export function textOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v) ?? '';
}

/** A value as text for a summary list (lists joined, objects never shown raw). */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(valueText).join(', ');
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  if (typeof v === 'object') return '(structured value)';
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) && Number.isFinite(Date.parse(v))) return inWords(v);
  return textOf(v);
}

export function tag(text: string, colour?: 'grey' | 'green' | 'red' | 'yellow' | 'blue' | 'orange'): { text: string; classes?: string } {
  return colour ? { text, classes: `govuk-tag--${colour}` } : { text };
}

/** The form's value(s) for a name, always as a list of strings. */
export function formList(body: unknown, name: string): string[] {
  const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' && v !== '' ? [v] : [];
}
export function formText(body: unknown, name: string): string {
  return formList(body, name)[0] ?? '';
}
