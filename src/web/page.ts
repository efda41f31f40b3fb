/** What every page's template gets: the title, the menu for the signed-in person's role, who they are, the form token. */
import type { Request, Response } from 'express';
import type { AgencyType, Role } from '../vocabulary/vocabulary';
import { ROLE_LABELS } from './labels';
import { webPrincipal } from './session';

/** What the pages need of a trust-registry agency (src/auth/registry.ts `Agency` fits). */
export interface WebAgency {
  readonly id: string;
  readonly name: string;
  readonly agencyType: AgencyType;
  readonly issuer: string;
  readonly clientIds: readonly string[];
  readonly allowedRoles: readonly Role[];
  readonly area?: string;
}

export const AUDITOR_ROLES: readonly Role[] = ['auditor'];
export const ADMIN_ROLES: readonly Role[] = ['auditor', 'data_protection_officer'];
/** Roles that look at decisions rather than make them. */
export const NON_SHARING_ROLES: readonly Role[] = ['auditor', 'system'];

interface NavItem {
  readonly href: string;
  readonly text: string;
  readonly current?: boolean;
  readonly active?: boolean;
}

export function pageContext(req: Request, res: Response, page: { pageTitle: string; backLink?: string }): Record<string, unknown> {
  const principal = webPrincipal(res);
  const path = req.originalUrl.split('?')[0] ?? '/';
  const items: NavItem[] = [];
  if (principal) {
    if (!NON_SHARING_ROLES.includes(principal.role) && principal.scopes.has('decisions'))
      items.push({ href: '/share', text: 'Can I share this?' });
    // src/workflows/pages: referrals, requests for information, the daily triage list.
    if (!NON_SHARING_ROLES.includes(principal.role) && principal.scopes.has('decisions'))
      items.push({ href: '/referrals', text: 'Referrals' });
    if (!NON_SHARING_ROLES.includes(principal.role) && principal.scopes.has('records:read'))
      items.push({ href: '/information-requests', text: 'Requests for information' }, { href: '/triage', text: 'Daily triage' });
    if (AUDITOR_ROLES.includes(principal.role)) {
      items.push(
        { href: '/audit', text: 'Audit log' },
        { href: '/audit/charts', text: 'Charts' },
        { href: '/audit/verify', text: 'Verify ledger' },
      );
    }
    if (ADMIN_ROLES.includes(principal.role))
      items.push(
        { href: '/disclosures', text: 'Subject disclosures' },
        { href: '/admin/agencies', text: 'Agencies' },
        { href: '/admin/policies', text: 'Policies' },
      );
  }
  const navigation = items.map((item) => {
    const exact = path === item.href;
    const within =
      !exact &&
      path.startsWith(`${item.href}/`) &&
      !items.some((o) => o.href !== item.href && o.href.length > item.href.length && path.startsWith(o.href));
    return { ...item, ...(exact ? { current: true } : within ? { active: true } : {}) };
  });
  const auth = req.session?.auth;
  const notice = req.session?.notice;
  if (notice && req.session) delete req.session.notice;
  return {
    pageTitle: page.pageTitle,
    ...(page.backLink ? { backLink: page.backLink } : {}),
    navigation,
    csrfToken: res.locals.csrfToken,
    notice,
    user: principal
      ? {
          name: principal.practitioner?.name ?? auth?.name ?? principal.practitioner?.subject ?? principal.clientId,
          role: ROLE_LABELS[principal.role],
          agency: auth?.agencyName ?? principal.agency.id,
        }
      : undefined,
  };
}
