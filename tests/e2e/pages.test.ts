/**
 * The pages, end to end in Debian's Chromium: a whole gateway (real PostgreSQL, the real development OpenID
 * provider, the real policies and ledger), practitioners signing in at their own agency, the "Can I share this?"
 * journey for a permit, a partial permit and a deny — each recorded in the ledger before its answer shows — and
 * the auditor console finding them, verifying the chain and exporting CSV. Every main page is checked with axe-core
 * (no serious or critical violations) and screenshotted into tests/e2e/artifacts/.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible, launchChromium, screenshot, watchPage } from './support/browser';
import { startE2eGateway, type E2eGateway } from './support/gateway';

interface Scenario {
  readonly toAgencyType: string;
  readonly toRole: string;
  readonly purpose: string;
  readonly subjectRole: string;
  readonly subjectRef?: string;
  readonly fields: readonly string[];
  readonly facts: Readonly<Record<string, string>>;
}

const encompass = (fields: readonly string[], hours = '0'): Scenario => ({
  toAgencyType: 'school',
  toRole: 'designated_safeguarding_lead',
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-001234',
  fields,
  facts: { child_present_at_incident: 'yes', hours_since_incident: hours },
});

const continueButton = (page: Page) => page.getByRole('button', { name: 'Continue' });

describe('pages for practitioners and auditors, in a real browser', () => {
  let gw: E2eGateway;
  let browser: Browser;
  let police: BrowserContext;
  let policePage: Page;
  const watched: Array<{ problems: string[] }> = [];
  const answers: Record<string, { entryId: string; seq: number }> = {};

  beforeAll(async () => {
    gw = await startE2eGateway();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });
  afterEach(() => {
    // No page may need an inline script the Content-Security-Policy refuses, nor throw.
    expect(watched.flatMap((w) => w.problems)).toEqual([]);
  });

  async function newPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    watched.push(watchPage(page));
    return page;
  }

  /** At the gateway: choose the organisation; at the agency's own issuer: its login form. */
  async function signIn(page: Page, agencyName: string, account: { login: string; password: string }, shoot = false): Promise<void> {
    await page.goto(`${gw.url}/sign-in`);
    await page.getByLabel(agencyName, { exact: true }).check();
    await continueButton(page).click();
    await page.waitForURL((u) => u.origin === new URL(gw.idpUrl).origin);
    if (shoot) {
      await expectAccessible(page, 'development IdP sign-in');
      await screenshot(page, '02-agency-login');
    }
    await page.locator('input[name=login]').fill(account.login);
    await page.locator('input[name=password]').fill(account.password);
    await page.locator('button[type=submit]').first().click();
    // The development IdP may ask for consent once: continue until we are back at the gateway.
    for (let i = 0; i < 3 && new URL(page.url()).origin !== gw.url; i += 1) {
      await page.locator('button[type=submit]').first().click();
      await page.waitForLoadState();
    }
    await page.waitForURL((u) => u.origin === gw.url);
    expect(await page.locator('.app-account').innerText()).toContain('Signed in as');
  }

  /** axe-core runs in the page: only where JavaScript is on (the no-JavaScript journey is screenshotted instead). */
  async function check(page: Page, name: string): Promise<void> {
    if (page.context() !== noJsContext) await expectAccessible(page, name);
  }
  let noJsContext: BrowserContext | undefined;

  async function ask(page: Page, s: Scenario, name?: string): Promise<{ heading: string; entryId: string; seq: number }> {
    await page.goto(`${gw.url}/share/new`);
    await page.locator(`input[name=toAgencyType][value=${s.toAgencyType}]`).check();
    if (name) await screenshot(page, `${name}-1-organisation`);
    await continueButton(page).click();
    // Only that organisation's roles are offered.
    await page.locator(`input[name=toRole][value=${s.toRole}]`).check();
    if (name) {
      await check(page, 'role');
      await screenshot(page, `${name}-1-role`);
    }
    await continueButton(page).click();
    await page.locator(`input[name=purpose][value=${s.purpose}]`).check();
    if (name) await check(page, 'purpose');
    await continueButton(page).click();
    await page.locator(`input[name=subjectRole][value=${s.subjectRole}]`).check();
    if (s.subjectRef) await page.getByLabel('Your case reference (optional)').fill(s.subjectRef);
    await continueButton(page).click();
    for (const f of s.fields) await page.locator(`input[name=fields][value=${f}]`).check();
    if (name) {
      await check(page, 'information');
      await screenshot(page, `${name}-2-information`);
    }
    await continueButton(page).click();
    // The facts page asks only what the rules for this purpose use, and is skipped when they use none.
    if (new URL(page.url()).pathname === '/share/facts')
      for (const [fact, value] of Object.entries(s.facts)) {
        const input = page.locator(`input[name=${fact}]`);
        // A fact the rules for this purpose do not test is not asked: nothing to answer.
        if ((await input.count()) === 0) continue;
        if ((await input.first().getAttribute('type')) === 'radio') await page.locator(`input[name=${fact}][value=${value}]`).check();
        else await input.fill(value);
      }
    if (name && new URL(page.url()).pathname === '/share/facts') {
      await check(page, 'facts');
      await screenshot(page, `${name}-3-facts`);
    }
    if (new URL(page.url()).pathname === '/share/facts') await continueButton(page).click();
    expect(await page.locator('h1').innerText()).toContain('Check your answers');
    if (name) {
      await check(page, 'check your answers');
      await screenshot(page, `${name}-4-check`);
    }
    await page.getByRole('button', { name: 'Get the answer' }).click();
    await page.waitForURL(`${gw.url}/share/answer`);
    if (name) {
      await check(page, `answer ${name}`);
      await screenshot(page, `${name}-5-answer`);
    }
    return {
      heading: (await page.locator('h1').innerText()).trim(),
      entryId: (await page.getByTestId('entry-id').innerText()).trim(),
      seq: Number(await page.getByTestId('entry-seq').innerText()),
    };
  }

  it('shows a start page and lists the registry agencies on "Which organisation are you from?"', async () => {
    police = await browser.newContext();
    policePage = await newPage(police);
    await policePage.goto(`${gw.url}/`);
    expect(await policePage.locator('h1').innerText()).toBe('Can I share this?');
    await expectAccessible(policePage, 'start');
    await screenshot(policePage, '00-start');
    await policePage.getByRole('button', { name: 'Sign in' }).click();
    expect(await policePage.locator('legend').innerText()).toContain('Which organisation are you from?');
    for (const agency of gw.signInAgencies) expect(await policePage.getByLabel(agency.name, { exact: true }).count()).toBe(1);
    expect(await policePage.locator('input[name=agency]').count()).toBe(gw.signInAgencies.length);
    await continueButton(policePage).click();
    expect(await policePage.locator('.govuk-error-summary').innerText()).toContain('Select the organisation you work for');
    await expectAccessible(policePage, 'sign-in');
    await screenshot(policePage, '01-sign-in');
  });

  it('signs a practitioner in at their own agency with a new session id, HttpOnly and SameSite=Lax', async () => {
    const before = (await police.cookies()).find((c) => c.name === 'sg_session')?.value;
    await signIn(policePage, gw.police.agencyName, gw.police, true);
    const cookie = (await police.cookies()).find((c) => c.name === 'sg_session');
    expect(cookie).toEqual(expect.objectContaining({ httpOnly: true, sameSite: 'Lax', secure: false }));
    expect(cookie?.value).not.toBe(before);
    expect(await policePage.locator('.app-account').innerText()).toContain(gw.police.agencyName);
  });

  it('answers "Yes, you can share" and has recorded the decision in the ledger before showing it', async () => {
    await policePage.goto(`${gw.url}/share/new`);
    await continueButton(policePage).click();
    expect(await policePage.locator('.govuk-error-summary').innerText()).toContain(
      'Select which organisation is asking for the information',
    );
    await expectAccessible(policePage, 'organisation with errors');
    const a = await ask(policePage, encompass(['name', 'incident_date', 'child_involvement']), 'permit');
    expect(a.heading).toBe('Yes, you can share');
    expect(await policePage.locator('main').innerText()).toContain('Domestic Abuse Act 2021 s.49A');
    const rows = await gw.db.asOwner<{ kind: string; outcome: string; seq: string; agency_id: string; payload: Record<string, unknown> }>(
      'SELECT kind, outcome, seq::text AS seq, agency_id, payload FROM audit_ledger WHERE entry_id = $1',
      [a.entryId],
    );
    expect(rows).toEqual([
      expect.objectContaining({ kind: 'decision', outcome: 'permit', seq: String(a.seq), agency_id: gw.police.agencyId }),
    ]);
    expect(JSON.stringify(rows[0]?.payload)).not.toContain('NP-2026-001234');
    answers.permit = a;
  });

  it('answers "You can share some of this", listing what must not go and why', async () => {
    const a = await ask(policePage, encompass(['name', 'incident_date', 'child_involvement', 'incident_full_report']), 'partial');
    expect(a.heading).toBe('You can share some of this');
    const main = await policePage.locator('main').innerText();
    expect(main).toContain('Full police incident report');
    expect(main).toContain('A rule forbids it');
    expect(main).toContain('What you must record');
    // The verdict in a panel, one thing to do now (Operation Encompass: before the next school day starts,
    // from the school calendar), field labels never vocabulary keys, the time in words.
    expect(await policePage.getByTestId('verdict').getAttribute('data-outcome')).toBe('permit_partial');
    const next = await policePage.getByTestId('next-step').innerText();
    expect(next).toMatch(
      /^What to do now: Tell the school's designated safeguarding lead before 8:30am on (Monday|Tuesday|Wednesday|Thursday|Friday) \d{1,2} [A-Z][a-z]+: share only/,
    );
    expect(main).not.toMatch(/incident_full_report|child_involvement/);
    // Each reason once: the reason beside the withheld item is not repeated under "Why".
    expect(main.split('how the child was affected so they can support them').length - 1).toBe(1);
    expect(main).toMatch(
      /Recorded at\s+(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+ \d{4} at \d{1,2}:\d{2}[ap]m/,
    );
    expect(await policePage.getByRole('button', { name: 'Print or save this answer' }).isVisible()).toBe(true);
    expect(await policePage.getByRole('button', { name: 'Copy reference' }).isVisible()).toBe(true);
    // Printed: no menu, no buttons, the verdict and reference kept.
    await policePage.emulateMedia({ media: 'print' });
    expect(await policePage.locator('.govuk-service-navigation').isVisible()).toBe(false);
    expect(await policePage.getByRole('button', { name: 'Print or save this answer' }).isVisible()).toBe(false);
    expect(await policePage.getByTestId('entry-id').isVisible()).toBe(true);
    await screenshot(policePage, 'partial-6-answer-printed');
    await policePage.emulateMedia({ media: 'screen' });
    answers.partial = a;
  });

  it('answers "Ask your manager" and names who must decide', async () => {
    const a = await ask(policePage, {
      toAgencyType: 'childrens_social_care',
      toRole: 'social_worker',
      purpose: 'child_in_need_assessment',
      subjectRole: 'child',
      fields: ['name', 'school_attended'],
      facts: { consent: 'not_sought' },
    });
    expect(a.heading).toBe('Ask your manager');
    const main = await policePage.locator('main').innerText();
    expect(await policePage.getByTestId('verdict').getAttribute('data-outcome')).toBe('refer');
    // One named decider, in the warning and in what to do now.
    expect(main).toContain('Ask a team manager to decide');
    expect(await policePage.getByTestId('next-step').innerText()).toContain('ask a team manager to decide');
    await expectAccessible(policePage, 'answer refer');
    await screenshot(policePage, 'refer-5-answer');
  });

  it('answers "Do not share" without JavaScript, with error summaries on the way', async () => {
    const noJs = await browser.newContext({ javaScriptEnabled: false });
    noJsContext = noJs;
    const page = await newPage(noJs);
    await signIn(page, gw.police.agencyName, gw.police);
    await page.goto(`${gw.url}/share/new`);
    await continueButton(page).click();
    const summary = await page.locator('.govuk-error-summary').innerText();
    expect(summary).toContain('Select which organisation is asking for the information');
    expect(await page.title()).toMatch(/^Error: /);
    await screenshot(page, 'deny-0-errors');
    // A request id a spreadsheet would read as a formula: the CSV export must neutralise it.
    await page.setExtraHTTPHeaders({ 'X-Request-Id': '-e2e-formula-check' });
    const a = await ask(page, encompass(['incident_full_report', 'pnc_id']), 'deny');
    expect(a.heading).toBe('Do not share');
    expect(await page.locator('main').innerText()).toContain('Do not share any of the information you were asked for.');
    answers.deny = a;
    await noJs.close();
  });

  it('shows nothing of the answer when the ledger cannot record it (invariant 1)', async () => {
    const before = await gw.db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM audit_ledger');
    gw.setLedgerDown(true);
    try {
      await policePage.goto(`${gw.url}/share/check`);
      const [response] = await Promise.all([
        policePage.waitForResponse((r) => r.url() === `${gw.url}/share/check` && r.request().method() === 'POST'),
        policePage.getByRole('button', { name: 'Get the answer' }).click(),
      ]);
      expect(response.status()).toBe(503);
      const main = await policePage.locator('main').innerText();
      expect(main).toContain('The answer could not be recorded in the audit ledger, so it has not been shown');
      expect(main).not.toMatch(/You can share|Full police incident report|Domestic Abuse Act/);
    } finally {
      gw.setLedgerDown(false);
    }
    const after = await gw.db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM audit_ledger');
    expect(after).toEqual(before);
  });

  it('refuses a form without its CSRF token, and keeps practitioners out of the auditor console', async () => {
    const refused = await policePage.request.post(`${gw.url}/share/purpose`, { form: { purpose: 'research' }, maxRedirects: 0 });
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain('Your form has expired');
    const audit = await policePage.goto(`${gw.url}/audit`);
    expect(audit?.status()).toBe(403);
    expect(await policePage.locator('h1').innerText()).toBe('You cannot see this page');
  });

  describe('the auditor console', () => {
    let auditor: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      auditor = await browser.newContext({ acceptDownloads: true });
      page = await newPage(auditor);
      await signIn(page, gw.auditor.agencyName, gw.auditor);
    });

    it('lists the three decisions, filters them, and records the read in the ledger', async () => {
      const res = await page.goto(`${gw.url}/audit`);
      const readEntry = res?.headers()['x-audit-entry-id'];
      expect(Object.keys(answers)).toEqual(['permit', 'partial', 'deny']);
      for (const a of Object.values(answers)) expect(await page.locator(`tr[data-entry-id="${a.entryId}"]`).count()).toBe(1);
      await expectAccessible(page, 'audit log');
      await screenshot(page, '10-audit-log');
      const reads = await gw.db.asOwner<{ kind: string; agency_id: string }>(
        'SELECT kind, agency_id FROM audit_ledger WHERE entry_id = $1',
        [readEntry],
      );
      expect(reads).toEqual([{ kind: 'audit_read', agency_id: gw.auditor.agencyId }]);

      await page.selectOption('#outcome', 'deny');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      expect(await page.locator(`tr[data-entry-id="${answers.deny?.entryId}"]`).count()).toBe(1);
      expect(await page.locator(`tr[data-entry-id="${answers.permit?.entryId}"]`).count()).toBe(0);

      await page.goto(`${gw.url}/audit?since=2026-02-31`);
      expect(await page.locator('.govuk-error-summary').innerText()).toContain('Enter the “from” date as a real date');
    });

    it('hides reads by default, counts results, and searches by audit reference, request id and case reference', async () => {
      await page.goto(`${gw.url}/audit`);
      expect(await page.getByTestId('result-count').innerText()).toMatch(/^\d+ entries \(reads of the log hidden\)$/);
      expect(await page.locator('td', { hasText: 'Audit log read' }).count()).toBe(0);
      await page.getByLabel('Include reads of the audit log').check();
      await page.getByRole('button', { name: 'Apply filters' }).click();
      expect(await page.locator('td', { hasText: 'Audit log read' }).count()).toBeGreaterThan(0);
      // By audit reference: exactly that entry.
      await page.goto(`${gw.url}/audit`);
      await page.getByLabel('Search by audit reference, request id or case reference').fill(answers.partial?.entryId ?? '');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      expect(await page.getByTestId('result-count').innerText()).toContain('1 entry found');
      expect(await page.locator(`tr[data-entry-id="${answers.partial?.entryId}"]`).count()).toBe(1);
      await expectAccessible(page, 'audit search');
      await screenshot(page, '10-audit-search');
      // By case reference: every decision about that child (the reference is matched by its pseudonym).
      await page.getByLabel('Search by audit reference, request id or case reference').fill('NP-2026-001234');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      for (const a of [answers.permit, answers.partial, answers.deny])
        expect(await page.locator(`tr[data-entry-id="${a?.entryId}"]`).count()).toBe(1);
      // By request id: the formula-looking one the no-JavaScript journey sent.
      await page.getByLabel('Search by audit reference, request id or case reference').fill('-e2e-formula-check');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      expect(await page.locator('.govuk-error-summary').count()).toBe(1);
      // At 375 px nothing is wider than the screen (the table scrolls inside its own region).
      await page.setViewportSize({ width: 375, height: 800 });
      await page.goto(`${gw.url}/audit`);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      await screenshot(page, '10-audit-log-375px');
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    it('shows one entry: who, which fields, which rule, its hashes and chain position', async () => {
      await page.goto(`${gw.url}/audit/entries/${answers.partial?.entryId}`);
      const main = await page.locator('main').innerText();
      expect(main).toContain(`Entry ${answers.partial?.seq}`);
      expect(main).toContain('Full police incident report');
      expect(main).toContain('operation-encompass-police-to-school');
      expect(main).toContain('Hash of the previous entry');
      expect(main).toMatch(/[0-9a-f]{64}/);
      expect(main).not.toContain('NP-2026-001234');
      expect(await page.getByTestId('entry-summary').innerText()).toMatch(
        /asked whether to share 4 item\(s\) about a child with Designated safeguarding lead, School, for Operation Encompass\. Answer: Share some\./,
      );
      await expectAccessible(page, 'audit entry');
      await screenshot(page, '11-audit-entry');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download receipt' }).click()]);
      const receipt = JSON.parse(readFileSync((await download.path()) ?? '', 'utf8')) as { entryId: string; seq: number; sealed: boolean };
      expect(receipt).toEqual(expect.objectContaining({ entryId: answers.partial?.entryId, seq: answers.partial?.seq, sealed: false }));
    });

    it('verifies the chain', async () => {
      await page.goto(`${gw.url}/audit/verify`);
      expect(await page.locator('h1').innerText()).toContain('The audit ledger is intact');
      expect(await page.getByTestId('verify-summary').innerText()).toMatch(/^Chain intact to entry \d+; not sealed yet$/);
      await expectAccessible(page, 'verify');
      await screenshot(page, '12-verify');
    });

    it('draws decisions over time and denials by reason as accessible SVG with tables', async () => {
      await page.goto(`${gw.url}/audit/charts`);
      const charts = page.locator('svg[role=img]');
      expect(await charts.count()).toBe(3);
      expect(await charts.first().getAttribute('aria-labelledby')).toBe('decisions-over-time-title decisions-over-time-desc');
      expect(await page.locator('table').first().innerText()).toContain('Share some');
      // Referrals are counted apart from denials; every bar label is inside the chart, none cut off.
      expect(await page.locator('#denials-by-reason-title').count()).toBe(1);
      expect(await page.locator('#referrals-by-rule-title').count()).toBe(1);
      const outside = await page.evaluate<number>(`[...document.querySelectorAll('svg.app-chart text')].filter((t) => {
        const box = t.getBBox(); const svg = t.ownerSVGElement.viewBox.baseVal;
        return box.x < 0 || box.x + box.width > svg.width + 0.5;
      }).length`);
      expect(outside).toBe(0);
      expect(await page.locator('svg.app-chart text', { hasText: '…' }).count()).toBe(0);
      await expectAccessible(page, 'charts');
      await screenshot(page, '13-charts');
    });

    it("reports who has been given a person's information (UK GDPR Art 15(1)(c)), as a page and CSV, and records the report", async () => {
      await page.goto(`${gw.url}/disclosures`);
      await expectAccessible(page, 'subject disclosures (empty)');
      await page.getByLabel('Case reference or person id').fill('NP-2026-001234');
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/disclosures?')),
        page.getByRole('button', { name: 'Show disclosures' }).click(),
      ]);
      // The permit and the partial permit allowed sharing; the deny did not.
      expect(await page.getByTestId('disclosure-count').innerText()).toBe('2 disclosures found for “NP-2026-001234”');
      for (const a of [answers.permit, answers.partial]) expect(await page.locator(`tr[data-entry-id="${a?.entryId}"]`).count()).toBe(1);
      expect(await page.locator(`tr[data-entry-id="${answers.deny?.entryId}"]`).count()).toBe(0);
      const table = await page.getByTestId('disclosures').innerText();
      expect(table).toContain('Designated safeguarding lead, School');
      expect(table).toContain('Date of the incident');
      expect(table).toContain('Operation Encompass');
      await expectAccessible(page, 'subject disclosures');
      await screenshot(page, '14-subject-disclosures');
      const recorded = await gw.db.asOwner<{ kind: string; payload: Record<string, unknown> }>(
        'SELECT kind, payload FROM audit_ledger WHERE entry_id = $1',
        [res.headers()['x-audit-entry-id']],
      );
      expect(recorded).toEqual([{ kind: 'audit_read', payload: expect.objectContaining({ view: 'subject_disclosures', returned: 2 }) }]);
      expect(JSON.stringify(recorded)).not.toContain('NP-2026-001234');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download as CSV/ }).click()]);
      const csv = readFileSync((await download.path()) ?? '', 'utf8');
      expect(csv.split('\r\n')[0]).toBe(
        '\uFEFFwhen,status,by_agency,by_role,to_agency,to_agency_type,to_role,fields,purpose,rules,entry_id,seq',
      );
      expect(csv.split('\r\n').filter((l) => l.includes('allowed'))).toHaveLength(2);
    });

    it('exports CSV with formula injection neutralised', async () => {
      await page.goto(`${gw.url}/audit`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByText('Download these entries as CSV').click()]);
      const path = await download.path();
      const { readFileSync } = await import('node:fs');
      const csv = readFileSync(path, 'utf8');
      const lines = csv.split('\r\n');
      expect(lines[0]).toContain('seq,entry_id,recorded_at,kind,outcome');
      for (const a of Object.values(answers)) expect(csv).toContain(a.entryId);
      expect(csv).toContain(",'-e2e-formula-check,");
      expect(csv).not.toMatch(/(^|,)-e2e-formula-check/m);
    });

    it('shows administrators the agencies and the policy catalogue with lawful bases', async () => {
      await page.goto(`${gw.url}/admin/agencies`);
      for (const agency of gw.agencies) expect(await page.locator('main').innerText()).toContain(agency.issuer);
      await expectAccessible(page, 'agencies');
      await screenshot(page, '14-agencies');
      await page.goto(`${gw.url}/admin/policies`);
      const main = await page.locator('main').innerText();
      expect(main).toContain('Operation Encompass notification to a school');
      expect(main).toContain('Lawful basis (UK GDPR Article 6)');
      await expectAccessible(page, 'policies');
      await screenshot(page, '15-policies');
    });

    it('answers a mistyped address with the service\'s own "Page not found", and the API with problem+json', async () => {
      const res = await page.goto(`${gw.url}/no-such-page`);
      expect(res?.status()).toBe(404);
      expect(res?.headers()['content-type']).toContain('text/html');
      expect(await page.locator('h1').innerText()).toBe('Page not found');
      await expectAccessible(page, 'not found');
      await screenshot(page, '20-not-found');
      const api = await page.request.get(`${gw.url}/v1/no-such-thing`);
      expect(api.headers()['content-type']).toContain('application/problem+json');
    });

    it('signs out', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${gw.url}/signed-out`);
      await page.goto(`${gw.url}/audit`);
      expect(new URL(page.url()).pathname).toBe('/sign-in');
    });
  });
});
