/**
 * The workflows' time limits (src/workflows/settings.ts): defaults, per rule / agency / priority, Cafcass capped by the
 * hearing, bad files refused.
 */
import {
  cafcassChecksDeadline,
  DEFAULT_WORKFLOW_SETTINGS,
  informationRequestDeadline,
  parseWorkflowSettings,
  referralDueAt,
  WorkflowSettingsError,
} from '../../src/workflows/settings';
import { loadWorkflowSettings } from '../../src/workflows/settings';

const T0 = new Date('2026-12-01T10:00:00Z');
const hoursAfter = (d: Date): number => (d.getTime() - T0.getTime()) / 3_600_000;

describe('workflow settings', () => {
  it('defaults to 24 hours for referrals and 4 / 24 / 72 hours for red / amber / green', () => {
    expect(hoursAfter(referralDueAt(DEFAULT_WORKFLOW_SETTINGS, 'any-agency', ['some-rule'], T0))).toBe(24);
    expect(
      ['red', 'amber', 'green'].map((p) => hoursAfter(informationRequestDeadline(DEFAULT_WORKFLOW_SETTINGS, 'a', p as 'red', T0))),
    ).toEqual([4, 24, 72]);
  });

  it("takes the tightest limit of the referring rules, else the agency's, else the default", () => {
    const s = parseWorkflowSettings(
      { referrals: { defaultHours: 48, byRule: { 'rule-a': 8, 'rule-b': 2 }, byAgency: { 'slow-agency': 96 } } },
      'test',
    );
    expect(hoursAfter(referralDueAt(s, 'slow-agency', ['rule-a', 'rule-b'], T0))).toBe(2);
    expect(hoursAfter(referralDueAt(s, 'slow-agency', ['rule-c'], T0))).toBe(96);
    expect(hoursAfter(referralDueAt(s, 'other', ['rule-c'], T0))).toBe(48);
  });

  it('lets a requesting agency set its own priority hours, and caps Cafcass checks at the first hearing', () => {
    const s = parseWorkflowSettings(
      {
        informationRequests: { byAgency: { 'north-mash': { red: 2 } } },
        cafcassSafeguardingChecks: { byAgency: { 'north-cafcass': 120 } },
      },
      'test',
    );
    expect(hoursAfter(informationRequestDeadline(s, 'north-mash', 'red', T0))).toBe(2);
    expect(hoursAfter(informationRequestDeadline(s, 'north-mash', 'amber', T0))).toBe(24);
    expect(hoursAfter(cafcassChecksDeadline(s, 'north-cafcass', T0))).toBe(120);
    expect(hoursAfter(cafcassChecksDeadline(s, 'north-cafcass', T0, new Date('2026-12-03T10:00:00Z')))).toBe(48);
  });

  it('refuses a bad file, naming the problem', () => {
    expect(() => parseWorkflowSettings({ referrals: { defaultHours: -1 } }, 'bad.json')).toThrow(WorkflowSettingsError);
    expect(() => parseWorkflowSettings({ informationRequests: { priorityHours: { purple: 3 } } }, 'bad.json')).toThrow(/bad\.json/);
    expect(() => parseWorkflowSettings({ triage: { timeZone: 'Mars/Olympus' } }, 'bad.json')).toThrow(/time zone/);
  });

  it('reads the shipped config/workflows.json', () => {
    const s = loadWorkflowSettings('config/workflows.json');
    expect(s.informationRequests.priorityHours).toEqual({ red: 4, amber: 24, green: 72 });
    expect(s.referrals.byRule['refer-subject-access-to-dpo']).toBe(168);
  });
});
