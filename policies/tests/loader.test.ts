/**
 * The loader refuses any policy file it cannot fully understand, naming file, rule and problem; the policy version
 * follows every edit; and `decide` fails closed — it never throws, whatever it is given.
 * Bad catalogues are written to temporary directories (never into policies/).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVALUATION_FAILED_REASON, loadPolicyCatalogue, PolicyLoadError } from '../../src/policy';
import type { DecisionInput } from '../../src/policy/types';

const SHIPPED = path.resolve(__dirname, '..');
const CATALOGUE = 'version: "9.9.9"\n';

/** A valid rule file with one permit rule; `extra` lines are appended to the rule, `replace` edits it. */
function ruleFile(opts: { id?: string; lines?: string; replace?: [string, string][] } = {}): string {
  let text = `rules:
  - id: ${opts.id ?? 'test-permit'}
    title: A test permit
    effect: permit
    from: { agencyTypes: [police] }
    to: { agencyTypes: [school], roles: [designated_safeguarding_lead] }
    purposes: [operation_encompass]
    subjectRoles: [child]
    fields: [name, incident_date]
    when:
      child_present_at_incident: true
    lawfulBasis:
      statute: Test Act s.1
      ukGdprArticle6: Article 6(1)(e) public task
    sharing:
      power: Test Act s.1
${opts.lines ?? ''}`;
  for (const [from, to] of opts.replace ?? []) {
    if (!text.includes(from)) throw new Error(`test setup: "${from}" not in the rule file`);
    text = text.replace(from, to);
  }
  return text;
}

const dirs: string[] = [];
function catalogue(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-policy-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries({ 'catalogue.yaml': CATALOGUE, ...files })) writeFileSync(path.join(dir, name), text);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Loads `dir` expecting a PolicyLoadError; returns it. */
function loadError(dir: string): PolicyLoadError {
  try {
    loadPolicyCatalogue(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyLoadError);
    return e as PolicyLoadError;
  }
  throw new Error('expected the catalogue to be refused');
}

describe('loading the shipped catalogue', () => {
  it('loads, with a version of catalogue version + 12 hex digits', () => {
    const engine = loadPolicyCatalogue(SHIPPED);
    expect(engine.version).toMatch(/^1\.0\.0\+[0-9a-f]{12}$/);
    expect(engine.catalogue.rules.length).toBeGreaterThan(20);
  });
});

describe('a bad policy file stops loading, naming file, rule and problem', () => {
  it('an unknown field', () => {
    const dir = catalogue({
      'marac.yaml': ruleFile({
        id: 'marac-police-share',
        replace: [['fields: [name, incident_date]', 'fields: [name, incident_date, favourite_colour]']],
      }),
    });
    const e = loadError(dir);
    expect(e.file).toBe(path.join(dir, 'marac.yaml'));
    expect(e.rule).toBe('marac-police-share');
    expect(e.message).toContain(
      `${path.join(dir, 'marac.yaml')} rule "marac-police-share": fields[2] "favourite_colour" is not a field (allowed: name, date_of_birth,`,
    );
  });

  it('an unknown agency type, role or purpose', () => {
    const agency = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['agencyTypes: [school]', 'agencyTypes: [school, scool]']] }) }));
    expect(agency.message).toMatch(/rule "test-permit": to\.agencyTypes\[1\] "scool" is not an agency type \(allowed: police, /);
    const role = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['roles: [designated_safeguarding_lead]', 'roles: [headteacher]']] }) }),
    );
    expect(role.message).toMatch(/to\.roles\[0\] "headteacher" is not a role \(allowed: /);
    const purpose = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['purposes: [operation_encompass]', 'purposes: [gossip]']] }) }));
    expect(purpose.message).toMatch(/purposes\[0\] "gossip" is not a purpose/);
  });

  it('a selector of the wrong shape says what shapes are accepted', () => {
    const e = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['from: { agencyTypes: [police] }', 'from: { agencyTypes: police }']] }) }),
    );
    expect(e.message).toContain('from.agencyTypes "police" must be a list of agency types, "any", or {except: [agency types]}');
  });

  it('an unknown fact', () => {
    const e = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'colour: blue']] }) }));
    expect(e.rule).toBe('test-permit');
    expect(e.message).toMatch(/rule "test-permit": when: "colour" is not a fact \(allowed: child_present_at_incident, /);
  });

  it('a fact value that does not suit the fact', () => {
    const enumFact = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'dash_risk_level: extreme']] }) }),
    );
    expect(enumFact.message).toContain(
      'rule "test-permit": when.dash_risk_level "extreme" is not a possible value (allowed: standard, medium, high)',
    );
    const boolFact = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'child_present_at_incident: "yes"']] }) }),
    );
    expect(boolFact.message).toContain('when.child_present_at_incident "yes" is not true or false');
    const numberFact = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'hours_since_incident: { lte: -1 }']] }) }),
    );
    expect(numberFact.message).toContain('when.hours_since_incident.lte -1 is below the smallest possible value (0)');
    const comparison = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'child_present_at_incident: { lte: 3 }']] }) }),
    );
    expect(comparison.message).toContain(
      'when.child_present_at_incident.lte: lte applies only to number facts, and child_present_at_incident is true or false',
    );
    const inList = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['child_present_at_incident: true', 'consent: { in: [given, maybe] }']] }) }),
    );
    expect(inList.message).toContain('when.consent.in[1] "maybe" is not a possible value (allowed: given, refused, withdrawn, not_sought)');
  });

  it('a duplicate id, even across files, naming both files', () => {
    const dir = catalogue({ 'a.yaml': ruleFile({ id: 'same-id' }), 'b.yaml': ruleFile({ id: 'same-id' }) });
    const e = loadError(dir);
    expect(e.file).toBe(path.join(dir, 'b.yaml'));
    expect(e.message).toContain(`rule "same-id": id is already used by a rule in ${path.join(dir, 'a.yaml')}`);
  });

  it('a permit without a lawful basis', () => {
    const text = ruleFile().replace(/ {4}lawfulBasis:\n.*\n.*\n/, '');
    const e = loadError(catalogue({ 'a.yaml': text }));
    expect(e.message).toContain('rule "test-permit": a permit rule must cite its lawfulBasis');
  });

  it('a refer rule without referTo, and a deny rule without a reason', () => {
    const refer = `rules:
  - id: test-refer
    title: A test referral
    effect: refer
    from: { agencyTypes: any }
    to: { agencyTypes: any }
    purposes: any
    subjectRoles: any
    fields: all
    reason: Someone must decide.
`;
    expect(loadError(catalogue({ 'a.yaml': refer })).message).toContain('rule "test-refer": a refer rule must say who decides (referTo');
    const deny = refer.replace('effect: refer', 'effect: deny').replace('    reason: Someone must decide.\n', '');
    expect(loadError(catalogue({ 'a.yaml': deny })).message).toContain('rule "test-refer": a deny rule must give a reason');
  });

  it('fields: all on a permit rule', () => {
    const e = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['fields: [name, incident_date]', 'fields: all']] }) }));
    expect(e.message).toContain('rule "test-permit": fields: all is only for deny and refer rules');
  });

  it('bad YAML', () => {
    const dir = catalogue({ 'broken.yaml': 'rules:\n  - id: x\n    title: [unclosed\n' });
    const e = loadError(dir);
    expect(e.file).toBe(path.join(dir, 'broken.yaml'));
    expect(e.rule).toBeUndefined();
    expect(e.message).toMatch(/broken\.yaml: is not valid YAML: /);
  });

  it('a duplicate key in YAML', () => {
    const e = loadError(
      catalogue({ 'a.yaml': ruleFile({ replace: [['title: A test permit', 'title: A test permit\n    title: Again']] }) }),
    );
    expect(e.message).toMatch(/a\.yaml: is not valid YAML: .*[Mm]ap keys must be unique/);
  });

  it('a misspelt key names the key and the allowed ones', () => {
    const e = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['    fields: [', '    feilds: [']] }) }));
    expect(e.message).toContain('rule "test-permit": "feilds" is not a known key (allowed: id, title, effect,');
  });

  it('a rule without an id is named by its index', () => {
    const e = loadError(catalogue({ 'a.yaml': ruleFile({ replace: [['  - id: test-permit\n    title', '  - title']] }) }));
    expect(e.rule).toBe('rules[0]');
    expect(e.message).toMatch(/a\.yaml rules\[0\]: "id" is missing/);
  });

  it('an id that is not kebab-case', () => {
    const e = loadError(catalogue({ 'a.yaml': ruleFile({ id: 'Test_Permit' }) }));
    expect(e.message).toContain('rule "Test_Permit": id "Test_Permit" must be kebab-case');
  });

  it('a missing catalogue.yaml, or one without a version', () => {
    const dir = catalogue({ 'a.yaml': ruleFile() });
    rmSync(path.join(dir, 'catalogue.yaml'));
    expect(loadError(dir).message).toContain('catalogue.yaml: is missing');
    const noVersion = catalogue({ 'catalogue.yaml': 'title: no version\n', 'a.yaml': ruleFile() });
    expect(loadError(noVersion).message).toContain('catalogue.yaml: "version" is missing');
  });

  it('a directory that does not exist', () => {
    expect(loadError(path.join(os.tmpdir(), 'sg-no-such-policy-dir')).message).toContain('is not a readable policy directory');
  });
});

describe('policy version', () => {
  it('is the same for the same files and changes when any file changes', () => {
    const files = Object.fromEntries(
      readdirSync(SHIPPED)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => [f, readFileSync(path.join(SHIPPED, f), 'utf8')]),
    );
    const original = loadPolicyCatalogue(catalogue(files)).version;
    expect(loadPolicyCatalogue(catalogue(files)).version).toBe(original);
    expect(loadPolicyCatalogue(SHIPPED).version).toBe(original);

    const edited = { ...files, 'marac.yaml': `${files['marac.yaml'] ?? ''}\n# reviewed again\n` };
    const changed = loadPolicyCatalogue(catalogue(edited)).version;
    expect(changed).not.toBe(original);
    expect(changed.startsWith('1.0.0+')).toBe(true);

    const bumped = loadPolicyCatalogue(
      catalogue({ ...files, 'catalogue.yaml': files['catalogue.yaml']?.replace('"1.0.0"', '"1.0.1"') ?? '' }),
    ).version;
    expect(bumped).toMatch(/^1\.0\.1\+[0-9a-f]{12}$/);
  });
});

describe('decide fails closed', () => {
  const engine = loadPolicyCatalogue(SHIPPED);
  const valid: DecisionInput = {
    from: { agencyType: 'police' },
    to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
    purpose: 'operation_encompass',
    subjectRole: 'child',
    fields: ['name'],
    facts: { child_present_at_incident: true, hours_since_incident: 2, before_next_school_day_start: true },
  };
  const throwing = new Proxy(
    {},
    {
      get: () => {
        throw new Error('boom');
      },
    },
  );

  const garbage: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'give me everything'],
    ['an empty object', {}],
    ['from: null', { ...valid, from: null }],
    ['an unknown agency', { ...valid, from: { agencyType: 'mi5' } }],
    ['an unknown recipient role', { ...valid, to: { agencyType: 'school', role: 'headteacher' } }],
    ['an unknown purpose', { ...valid, purpose: 'gossip' }],
    ['an unknown subject role', { ...valid, subjectRole: 'neighbour' }],
    ['fields not a list', { ...valid, fields: 'name' }],
    ['an unknown field', { ...valid, fields: ['name', 'favourite_colour'] }],
    ['a field that is not a string', { ...valid, fields: ['name', { $gt: '' }] }],
    ['facts not an object', { ...valid, facts: 'present' }],
    ['an unknown fact', { ...valid, facts: { ...valid.facts, colour: 'blue' } }],
    ['a fact of the wrong type', { ...valid, facts: { child_present_at_incident: 'true', hours_since_incident: 2 } }],
    ['a null fact', { ...valid, facts: { child_present_at_incident: true, hours_since_incident: null } }],
    ['a negative number fact', { ...valid, facts: { child_present_at_incident: true, hours_since_incident: -5 } }],
    ['NaN', { ...valid, facts: { child_present_at_incident: true, hours_since_incident: Number.NaN } }],
    ['a mongo operator as a fact value', { ...valid, facts: { child_present_at_incident: { $ne: false }, hours_since_incident: 2 } }],
    ['an object that throws on every read', throwing],
  ];

  it.each(garbage)('%s → deny, never a throw', (_label, input) => {
    const d = engine.decide(input as DecisionInput);
    expect(d.decision).toBe('deny');
    expect(d.permittedFields).toEqual([]);
    expect(d.lawfulBasis).toEqual([]);
    expect(d.failure?.code).toMatch(/^(invalid_input|policy_evaluation_error)$/);
    expect(d.reasons.length).toBe(1);
    expect(d.policyVersion).toBe(engine.version);
  });

  it('an internal fault is a deny with the information-governance reason', () => {
    const d = engine.decide(throwing as unknown as DecisionInput);
    expect(d).toMatchObject({ decision: 'deny', failure: { code: 'policy_evaluation_error' }, reasons: [EVALUATION_FAILED_REASON] });
  });

  it('an unknown word is named in the reason', () => {
    const d = engine.decide({ ...valid, purpose: 'gossip' } as unknown as DecisionInput);
    expect(d.failure?.code).toBe('invalid_input');
    expect(d.reasons[0]).toContain('purpose "gossip" is not a known purpose');
    expect(d.withheldFields).toEqual([{ field: 'name', code: 'no_rule_permits', reason: d.reasons[0], routes: [] }]);
  });

  it('a field asked for twice is decided once', () => {
    const d = engine.decide({ ...valid, fields: ['name', 'name'] });
    expect(d).toMatchObject({ decision: 'permit', permittedFields: ['name'], withheldFields: [] });
  });
});

describe('engine semantics on a purpose-built catalogue', () => {
  const permit = (id: string, extra: string): string => `  - id: ${id}
    title: ${id}
    effect: permit
    from: { agencyTypes: [gp], roles: [gp] }
    to: { agencyTypes: [hospital] }
    purposes: [health_care]
    subjectRoles: any
    fields: [name, physical_health]
    lawfulBasis: { statute: Test Act, ukGdprArticle6: Article 6(1)(e) public task }
    sharing: { power: Test Act }
${extra}`;
  const dir = catalogue({
    // Deny rules win wherever they are: this file sorts BEFORE the permits.
    'a-deny.yaml': `rules:
  - id: deny-health-when-prejudiced
    title: deny
    effect: deny
    from: { agencyTypes: any }
    to: { agencyTypes: any }
    purposes: any
    subjectRoles: any
    fields: [physical_health]
    when: { live_investigation_would_be_prejudiced: true }
    reason: Held back for the test.
`,
    'z-permit.yaml': `rules:
${permit('with-not-and-lte', '    when: { consent: { not: refused }, hours_since_incident: { lte: 72 } }\n')}`,
  });
  const engine = loadPolicyCatalogue(dir);
  const ask = (facts: DecisionInput['facts'], role?: 'gp' | 'practitioner'): string =>
    engine.decide({
      from: { agencyType: 'gp', ...(role ? { role } : {}) },
      to: { agencyType: 'hospital', role: 'practitioner' },
      purpose: 'health_care',
      subjectRole: 'adult_victim',
      fields: ['name', 'physical_health'],
      facts,
    }).decision;

  it('missing facts never satisfy a condition, not even `not` or `lte`', () => {
    expect(ask({}, 'gp')).toBe('deny');
    expect(ask({ hours_since_incident: 1 }, 'gp')).toBe('deny');
    expect(ask({ consent: 'given' }, 'gp')).toBe('deny');
    expect(ask({ consent: 'given', hours_since_incident: 1 }, 'gp')).toBe('permit');
    expect(ask({ consent: 'refused', hours_since_incident: 1 }, 'gp')).toBe('deny');
    expect(ask({ consent: 'given', hours_since_incident: 73 }, 'gp')).toBe('deny');
  });

  it("a rule naming the discloser's role never matches when the role is not given", () => {
    expect(ask({ consent: 'given', hours_since_incident: 1 })).toBe('deny');
    expect(ask({ consent: 'given', hours_since_incident: 1 }, 'practitioner')).toBe('deny');
  });

  it('a deny rule overrides a permit whatever file order says', () => {
    const d = engine.decide({
      from: { agencyType: 'gp', role: 'gp' },
      to: { agencyType: 'hospital', role: 'practitioner' },
      purpose: 'health_care',
      subjectRole: 'adult_victim',
      fields: ['name', 'physical_health'],
      facts: { consent: 'given', hours_since_incident: 1, live_investigation_would_be_prejudiced: true },
    });
    expect(d).toMatchObject({
      decision: 'permit_partial',
      permittedFields: ['name'],
      withheldFields: [
        { field: 'physical_health', code: 'denied_by_rule', reason: 'Held back for the test.', rule: 'deny-health-when-prejudiced' },
      ],
      rules: ['with-not-and-lte', 'deny-health-when-prejudiced'],
      lawfulBasis: [{ rule: 'with-not-and-lte', statute: 'Test Act', ukGdprArticle6: 'Article 6(1)(e) public task' }],
    });
  });
});
