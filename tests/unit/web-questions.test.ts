/**
 * "Can I share this?" asks only what matters, worked out from the real catalogue and registry (src/web/questions.ts):
 * an organisation's roles, and the facts the rules for the purpose test.
 */
import { loadPolicyCatalogue } from '../../src/policy';
import { loadAgencyRegistry } from '../../src/auth/registry';
import { FACT_SPECS, type FactName } from '../../src/vocabulary/vocabulary';
import { factsUsed, rolesOf } from '../../src/web/questions';

const engine = loadPolicyCatalogue('policies');
const agencies = loadAgencyRegistry('config/agencies.dev.json');
const ALL = Object.keys(FACT_SPECS) as FactName[];

describe('the questions the journey asks', () => {
  it('offers a school its own roles, never another organisation\'s (no "School + GP")', () => {
    const school = rolesOf('school', engine.catalogue, agencies);
    expect(school).toContain('designated_safeguarding_lead');
    expect(school).not.toContain('gp');
    expect(school).not.toContain('social_worker');
    expect(school).not.toContain('auditor');
    expect(rolesOf('gp', engine.catalogue, agencies)).toContain('gp');
  });

  it('asks only the facts the rules for the purpose test, far fewer than every fact', () => {
    const encompass = factsUsed(
      engine.catalogue,
      { from: 'police', to: 'school', role: 'designated_safeguarding_lead', purpose: 'operation_encompass' },
      ALL,
    );
    expect(encompass.length).toBeGreaterThan(0);
    expect(encompass.length).toBeLessThan(ALL.length);
    // A fact no rule tests is never asked, unless the gateway derives a tested fact from it: Operation Encompass
    // tests "before the next school day starts", which the gateway works out from the hours since the incident.
    const tested = new Set(engine.catalogue.rules.flatMap((r) => [...r.when, ...r.whenAny.flat()].map((t) => t.fact)));
    for (const f of ALL.filter((x) => !tested.has(x) && x !== 'hours_since_incident' && x !== 's47_enquiry_open'))
      expect(encompass).not.toContain(f);
    expect(encompass).toContain('hours_since_incident');
    // Another purpose asks other facts.
    const marac = factsUsed(engine.catalogue, { from: 'police', to: 'marac', purpose: 'marac' }, ALL);
    expect(marac).not.toEqual(encompass);
  });
});
