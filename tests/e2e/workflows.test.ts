/**
 * The workflow pages end to end in Debian's Chromium, on the demo data of `npm run seed` (the Northshire story plus
 * src/workflows/demo-seed.ts): the decider's queue and decision form, the practitioner's "my referrals", the asked
 * agency's inbox and answer form, the requester's status page and combined picture, and the printable triage list.
 * Every page is checked with axe-core and screenshotted into tests/e2e/artifacts/.
 */
import { Pool } from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { loadPolicyCatalogue } from '../../src/policy';
import { loadStory, seedStory } from '../../src/records/demo-seed';
import { seedWorkflows, type WorkflowSeedResult } from '../../src/workflows/demo-seed';
import { DEFAULT_WORKFLOW_SETTINGS } from '../../src/workflows/settings';
import { expectAccessible, launchChromium, screenshot, watchPage } from './support/browser';
import { startE2eGateway, type E2eGateway } from './support/gateway';

describe('workflow pages in a real browser', () => {
  let gw: E2eGateway;
  let browser: Browser;
  let seeded: WorkflowSeedResult;
  const watched: Array<{ problems: string[] }> = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gw = await startE2eGateway();
    browser = await launchChromium();
    const pool = new Pool({ connectionString: gw.db.ownerUrl, max: 3 });
    const ledger = new PgAuditLedger(pool);
    try {
      await seedStory(pool, ledger, loadStory('seed/northshire.json'), gw.agencies);
      seeded = await seedWorkflows(
        {
          pool,
          ledger,
          engine: loadPolicyCatalogue('policies'),
          pseudonymise: pseudonymiser('e2e-pseudonym-key-e2e-pseudonym-key-0000'),
          settings: DEFAULT_WORKFLOW_SETTINGS,
        },
        gw.agencies,
      );
      // Seeding again changes nothing.
      expect(
        (
          await seedWorkflows(
            {
              pool,
              ledger,
              engine: loadPolicyCatalogue('policies'),
              pseudonymise: pseudonymiser('e2e-pseudonym-key-e2e-pseudonym-key-0000'),
              settings: DEFAULT_WORKFLOW_SETTINGS,
            },
            gw.agencies,
          )
        ).alreadySeeded,
      ).toBe(true);
    } finally {
      await ledger.close();
      await pool.end();
    }
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
  });
  afterEach(() => {
    expect(watched.flatMap((w) => w.problems)).toEqual([]);
  });

  async function signedInPage(agencyId: string, login: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    watched.push(watchPage(page));
    const agency = gw.agencies.find((a) => a.id === agencyId);
    if (!agency) throw new Error(`no agency ${agencyId}`);
    await page.goto(`${gw.url}/sign-in`);
    await page.getByLabel(agency.name, { exact: true }).check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((u) => u.origin === new URL(gw.idpUrl).origin);
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('northshire-demo');
    await page.locator('button[type=submit]').first().click();
    for (let i = 0; i < 3 && new URL(page.url()).origin !== gw.url; i += 1) {
      await page.locator('button[type=submit]').first().click();
      await page.waitForLoadState();
    }
    await page.waitForURL((u) => u.origin === gw.url);
    return page;
  }

  it('shows the team manager the queue, refuses a decision without reasons, and records the decision', async () => {
    expect(seeded.referralId).toBeTruthy();
    const page = await signedInPage('northshire-csc', 'manager@northshire-csc');
    await page.goto(`${gw.url}/referrals`);
    expect(await page.locator('h1').innerText()).toBe('Referrals');
    expect(await page.getByRole('heading', { name: /Waiting for you to decide/ }).count()).toBe(1);
    await expectAccessible(page, 'referral queue');
    await screenshot(page, 'workflows-1-referral-queue');

    await page.locator(`a[href="/referrals/${String(seeded.referralId)}"]`).click();
    expect(await page.locator('h1').innerText()).toBe('Decide this referral');
    await expectAccessible(page, 'referral decision form');
    await screenshot(page, 'workflows-2-referral-decision-form');

    await page.getByLabel('Share some').check();
    await page.getByLabel('Refuge address').check();
    await page.getByRole('button', { name: 'Record my decision' }).click();
    expect(await page.locator('.govuk-error-summary').innerText()).toContain('Give your reasons');
    await expectAccessible(page, 'referral decision form with an error');
    await screenshot(page, 'workflows-3-referral-decision-error');

    await page.getByLabel('Share some').check();
    await page.getByLabel('Refuge address').check();
    await page
      .getByLabel('Your reasons')
      .fill('The officer needs to know where to send a patrol; the new address stays with the social worker.');
    await page.getByRole('button', { name: 'Record my decision' }).click();
    expect(await page.locator('.govuk-notification-banner').innerText()).toContain('Your decision is recorded');
    await expectAccessible(page, 'referral decided');
    await screenshot(page, 'workflows-4-referral-decided');
    const entries = await gw.db.asOwner<{ outcome: string; payload: { fieldsReleased: string[] } }>(
      `SELECT outcome, payload FROM audit_ledger WHERE kind = 'referral_decision'`,
    );
    expect(entries).toEqual([{ outcome: 'share_some', payload: expect.objectContaining({ fieldsReleased: ['refuge_address'] }) }]);
  });

  it('shows the practitioner who asked the outcome under "My referrals"', async () => {
    const page = await signedInPage('northshire-csc', 'sw@northshire-csc');
    await page.goto(`${gw.url}/referrals`);
    const mine = await page.locator('table').innerText();
    expect(mine).toContain('Share some');
    expect(mine).toContain('Decided');
    await expectAccessible(page, 'my referrals');
    await screenshot(page, 'workflows-5-my-referrals');
  });

  it('gives the school its inbox and lets it release a record, decided by policy', async () => {
    const page = await signedInPage('northshire-school', 'dsl@northshire-school');
    await page.goto(`${gw.url}/information-requests`);
    expect(await page.locator('table').first().innerText()).toContain('Awaiting');
    await expectAccessible(page, 'RFI inbox');
    await screenshot(page, 'workflows-6-rfi-inbox');
    await page
      .locator(`a[href="/information-requests/${String(seeded.informationRequestId)}"]`)
      .first()
      .click();
    await expectAccessible(page, 'RFI answer form');
    await screenshot(page, 'workflows-7-rfi-answer-form');
    await page.getByLabel('Release records').check();
    await page.locator('input[name=records]').first().check();
    await page.getByRole('button', { name: 'Send the answer' }).click();
    expect(await page.locator('.govuk-notification-banner').innerText()).toContain('Your answer is recorded');
    await screenshot(page, 'workflows-8-rfi-answered');
  });

  it('shows the MASH the status of its request as a task list, and the combined picture', async () => {
    const page = await signedInPage('northshire-mash', 'analyst@northshire-mash');
    await page.goto(`${gw.url}/information-requests/${String(seeded.informationRequestId)}`);
    const tasks = await page.locator('.govuk-task-list').innerText();
    expect(tasks).toMatch(/Answered/);
    expect(tasks).toMatch(/Awaiting/);
    await expectAccessible(page, 'RFI status');
    await screenshot(page, 'workflows-9-rfi-status');
    await page.getByRole('link', { name: /See what the agencies shared/ }).click();
    expect(await page.locator('h1').innerText()).toBe('What the agencies shared');
    expect(await page.locator('main').innerText()).toContain('Summary of the incident');
    await expectAccessible(page, 'RFI picture');
    await screenshot(page, 'workflows-10-rfi-picture');
  });

  it('prints the daily triage list for the MASH meeting', async () => {
    const page = await signedInPage('northshire-mash', 'analyst@northshire-mash');
    await page.goto(`${gw.url}/triage`);
    expect(await page.locator('h1').innerText()).toBe('Daily domestic abuse triage');
    const main = await page.locator('main').innerText();
    expect(main).toContain('2 families');
    expect(main).toContain('Wrenfield');
    expect(main).not.toContain('adult brothers');
    await expectAccessible(page, 'triage');
    await screenshot(page, 'workflows-11-triage');
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.govuk-service-navigation').isVisible()).toBe(false);
    await screenshot(page, 'workflows-12-triage-print');
  });
});
