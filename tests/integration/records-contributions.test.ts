/**
 * Contributing to the record store over HTTP (POST /v1/persons, /v1/households, /v1/households/{id}/members,
 * /v1/records; PUT /v1/records/{id}): real tokens, real PostgreSQL, the real ledger.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { syncAgencies } from '../../src/db/registry-sync';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const WRITE = 'records:write records:read';
const NHS = '9990000018';

describe('records exchange: contributions', () => {
  let gw: TestGateway;
  let police: string;
  let school: string;
  let health: string;
  let childId: string;

  const post = (path: string, token: string, body: unknown, key: string = randomUUID()) =>
    request(gw.app)
      .post(path)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', key)
      .send(body as object);
  const put = (path: string, token: string, body: unknown, ifMatch?: string) => {
    const r = request(gw.app).put(path).set('Authorization', `Bearer ${token}`);
    return (ifMatch === undefined ? r : r.set('If-Match', ifMatch)).send(body as object);
  };
  const incident = (subjectPersonId: string, extra: Record<string, unknown> = {}) => ({
    kind: 'incident',
    subjectPersonId,
    subjectRole: 'child',
    classification: 'OFFICIAL-SENSITIVE',
    occurredAt: '2026-11-20T21:30:00Z',
    fields: {
      incident_date: '2026-11-20T21:30:00Z',
      incident_summary: 'Shouting heard by a neighbour.',
      children_present: 2,
      child_involvement: ['heard'],
    },
    facts: { child_present_at_incident: true },
    ...extra,
  });
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await gw.db.asOwner<{ n: string }>(sql, params))[0]?.n ?? 0);

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    police = await gw.issuers.token({ agency: 'test-police', sub: 'pc-1', role: 'police_officer', scope: WRITE });
    school = await gw.issuers.token({ agency: 'test-school', sub: 'dsl-1', role: 'designated_safeguarding_lead', scope: WRITE });
    health = await gw.issuers.token({ agency: 'test-health-visiting', sub: 'hv-1', role: 'health_visitor', scope: WRITE });
    const res = await post('/v1/persons', police, {
      identifiers: { nhs_number: NHS },
      localId: 'NSP-1',
      fields: { name: 'Amy Example', date_of_birth: '2019-02-14' },
    });
    expect(res.status).toBe(201);
    childId = res.body.id;
  });
  afterAll(async () => {
    await gw.close();
  });

  describe('POST /v1/persons', () => {
    it('registers a person once; another agency with the same NHS number matches them (200) and becomes able to contribute', async () => {
      const matched = await post('/v1/persons', school, {
        identifiers: { nhs_number: NHS, unique_pupil_number: 'X823413106001' },
        fields: { name: 'Amy Example', school_attended: 'Wrenfield Primary' },
      });
      expect(matched.status).toBe(200);
      expect(matched.body).toEqual({
        id: childId,
        matched: true,
        matchedBy: ['nhs_number'],
        fields: ['name', 'nhs_number', 'school_attended', 'unique_pupil_number'],
      });
      // The new identifier was learnt; each agency keeps its own details.
      expect(await gw.db.asOwner('SELECT unique_pupil_number FROM persons WHERE id = $1', [childId])).toEqual([
        { unique_pupil_number: 'X823413106001' },
      ]);
      expect(
        await count('SELECT count(*) AS n FROM person_field_values WHERE person_id = $1 AND agency_id = $2', [childId, 'test-school']),
      ).toBe(4);
      expect(await count('SELECT count(*) AS n FROM persons')).toBe(1);
    });

    it('refuses identifiers that contradict the matched person, naming the identifier but never its value (409)', async () => {
      const res = await post('/v1/persons', health, { identifiers: { nhs_number: NHS, unique_pupil_number: 'X823413106999' } });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toContain('unique_pupil_number');
      expect(res.text).not.toContain('X823413106');
    });

    it('refuses a field that is not a person field, and an unknown one, by name (400 unknown_word)', async () => {
      const res = await post('/v1/persons', health, {
        identifiers: { nhs_number: '9990000026' },
        fields: { name: 'Leo', attendance: '90%', shoe_size: 12 },
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('unknown_word');
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            pointer: '/fields/attendance',
            word: 'attendance',
            allowed: expect.arrayContaining(['name', 'refuge_address']),
          }),
          expect.objectContaining({ pointer: '/fields/shoe_size', word: 'shoe_size' }),
        ]),
      );
      expect(await count("SELECT count(*) AS n FROM persons WHERE nhs_number = '9990000026'")).toBe(0);
    });
  });

  describe('POST /v1/records', () => {
    it('is idempotent: the same key and body give the same answer and write once; the same key with another body is 409', async () => {
      const key = randomUUID();
      const body = incident(childId);
      const first = await post('/v1/records', police, body, key);
      expect(first.status).toBe(201);
      expect(first.headers.etag).toBe('"1"');
      expect(first.headers.location).toBe(`/v1/records/${first.body.id}`);
      expect(first.body).toEqual(
        expect.objectContaining({
          kind: 'incident',
          version: 1,
          owningAgencyId: 'test-police',
          fields: ['child_involvement', 'children_present', 'incident_date', 'incident_summary'],
        }),
      );
      const entriesBefore = (await gw.ledgerRows()).length;

      const again = await post('/v1/records', police, body, key);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(await count('SELECT count(*) AS n FROM records WHERE id = $1', [first.body.id])).toBe(1);
      expect(await count("SELECT count(*) AS n FROM records WHERE owning_agency_id = 'test-police'")).toBe(1);
      expect((await gw.ledgerRows()).length).toBe(entriesBefore);

      const different = await post('/v1/records', police, incident(childId, { occurredAt: '2026-11-21T21:30:00Z' }), key);
      expect(different.status).toBe(409);
      expect(different.body.code).toBe('conflict');
      // The key belongs to the agency: another agency may use the same key for its own request.
      const otherAgency = await post(
        '/v1/records',
        school,
        {
          kind: 'school_note',
          subjectPersonId: childId,
          subjectRole: 'child',
          classification: 'OFFICIAL',
          occurredAt: '2026-11-19T09:00:00Z',
          fields: { attendance: '91%' },
        },
        key,
      );
      expect(otherAgency.status).toBe(201);
    });

    it('writes once when the same request races itself with one key', async () => {
      const key = randomUUID();
      const body = incident(childId, { occurredAt: '2026-11-18T08:00:00Z' });
      const [a, b, c] = await Promise.all([
        post('/v1/records', police, body, key),
        post('/v1/records', police, body, key),
        post('/v1/records', police, body, key),
      ]);
      expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
      expect(new Set([a.body.id, b.body.id, c.body.id]).size).toBe(1);
      expect([a, b, c].filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(2);
      expect(await count("SELECT count(*) AS n FROM records WHERE occurred_at = '2026-11-18T08:00:00Z'")).toBe(1);
    });

    it('records the contribution in the ledger with field NAMES and a content hash, never the values', async () => {
      const res = await post(
        '/v1/records',
        police,
        incident(childId, { fields: { incident_summary: 'A very particular summary text.', children_present: 1 } }),
      );
      expect(res.status).toBe(201);
      const rows = await gw.db.asOwner<{ kind: string; outcome: string; agency_id: string; payload: Record<string, unknown> }>(
        'SELECT * FROM audit_ledger WHERE request_id = $1',
        [res.headers['x-request-id']],
      );
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toEqual(expect.objectContaining({ kind: 'contribution', outcome: 'created', agency_id: 'test-police' }));
      expect(row.payload).toEqual(
        expect.objectContaining({
          action: 'create_record',
          recordId: gw.pseudonymise(res.body.id), // the record by pseudonym, never its id
          recordKind: 'incident',
          fields: ['children_present', 'incident_summary'],
          contentHash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        }),
      );
      expect(JSON.stringify(row.payload)).not.toContain('particular');
      expect(JSON.stringify(row.payload)).not.toContain(childId);
      expect(JSON.stringify(row.payload)).not.toContain(res.body.id);
    });

    it('needs an Idempotency-Key (400)', async () => {
      const res = await request(gw.app).post('/v1/records').set('Authorization', `Bearer ${police}`).send(incident(childId));
      expect(res.status).toBe(400);
      expect(res.body.errors[0].pointer).toBe('/headers/idempotency-key');
    });

    it.each([
      ['an unknown field', { fields: { incident_summary: 'x', shoe_size: 9 } }, '/fields/shoe_size', 'shoe_size'],
      [
        'a field this kind of record does not hold',
        { fields: { incident_summary: 'x', attendance: '90%' } },
        '/fields/attendance',
        'attendance',
      ],
      ['an unknown fact', { facts: { child_was_sad: true } }, '/facts/child_was_sad', 'child_was_sad'],
      ['a fact only the gateway may work out', { facts: { agreement_in_force: true } }, '/facts/agreement_in_force', 'agreement_in_force'],
      ['an unknown kind', { kind: 'gossip' }, '/kind', 'gossip'],
      ['an unknown subject role', { subjectRole: 'neighbour' }, '/subjectRole', 'neighbour'],
    ])('refuses %s by name (400 unknown_word) and writes nothing', async (_what, change, pointer, word) => {
      const before = await count('SELECT count(*) AS n FROM records');
      const res = await post('/v1/records', police, incident(childId, change));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('unknown_word');
      expect(res.body.detail).toContain(word);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer, word })]));
      expect(await count('SELECT count(*) AS n FROM records')).toBe(before);
    });

    it('refuses a bad value, pointing at it (400 invalid_request)', async () => {
      const res = await post('/v1/records', police, incident(childId, { fields: { incident_date: 'last Tuesday', children_present: -1 } }));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
        '/fields/children_present',
        '/fields/incident_date',
      ]);
    });

    it('refuses a record about a person the agency does not know, as if the person did not exist (404)', async () => {
      const known = await post('/v1/records', health, incident(childId, { kind: 'health_note', fields: { physical_health: 'well' } }));
      const unknown = await post(
        '/v1/records',
        health,
        incident(randomUUID(), { kind: 'health_note', fields: { physical_health: 'well' } }),
      );
      expect(known.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(known.body.detail).toBe(unknown.body.detail);
    });

    it('writes nothing when the ledger cannot record the contribution: 503, and the key can be used again (invariant 1)', async () => {
      const key = randomUUID();
      const before = await count('SELECT count(*) AS n FROM records');
      await gw.db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
      try {
        const res = await post(
          '/v1/records',
          police,
          incident(childId, { fields: { incident_summary: 'Written during an outage.' } }),
          key,
        );
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('audit_unavailable');
        expect(res.body).not.toHaveProperty('id');
        expect(await count('SELECT count(*) AS n FROM records')).toBe(before);
        expect(await count('SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1', [key])).toBe(0);
      } finally {
        await gw.db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
      }
      const retry = await post(
        '/v1/records',
        police,
        incident(childId, { fields: { incident_summary: 'Written during an outage.' } }),
        key,
      );
      expect(retry.status).toBe(201);
      expect(await count('SELECT count(*) AS n FROM records')).toBe(before + 1);
    });

    it('needs the records:write scope', async () => {
      const readOnly = await gw.issuers.token({ agency: 'test-police', scope: 'records:read' });
      expect((await post('/v1/records', readOnly, incident(childId))).status).toBe(403);
    });
  });

  describe('PUT /v1/records/{id}', () => {
    let recordId: string;
    beforeAll(async () => {
      recordId = (await post('/v1/records', police, incident(childId))).body.id;
    });

    it('replaces the content from the version read (If-Match) and answers the new version', async () => {
      const res = await put(
        `/v1/records/${recordId}`,
        police,
        {
          subjectRole: 'child',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: '2026-11-20T21:30:00Z',
          fields: { incident_summary: 'Corrected summary.', arrest_made: true },
          facts: { child_present_at_incident: true },
        },
        '"1"',
      );
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      expect(res.body).toEqual(expect.objectContaining({ id: recordId, version: 2, fields: ['arrest_made', 'incident_summary'] }));
      const rows = await gw.db.asOwner<{ version: number; fields: Record<string, unknown> }>(
        'SELECT version, fields FROM records WHERE id = $1',
        [recordId],
      );
      expect(rows[0]).toEqual({ version: 2, fields: { incident_summary: 'Corrected summary.', arrest_made: true } });
      const entry = await gw.db.asOwner<{ kind: string; outcome: string }>('SELECT kind, outcome FROM audit_ledger WHERE request_id = $1', [
        res.headers['x-request-id'],
      ]);
      expect(entry).toEqual([{ kind: 'contribution', outcome: 'updated' }]);
    });

    it('refuses a stale version with 409, and changes nothing', async () => {
      const res = await put(
        `/v1/records/${recordId}`,
        police,
        {
          subjectRole: 'child',
          classification: 'OFFICIAL',
          occurredAt: '2026-11-20T21:30:00Z',
          fields: { incident_summary: 'Lost update' },
        },
        '"1"',
      );
      expect(res.status).toBe(409);
      expect(res.body.detail).toContain('now version 2');
      expect((await gw.db.asOwner<{ version: number }>('SELECT version FROM records WHERE id = $1', [recordId]))[0]?.version).toBe(2);
    });

    it('needs If-Match (400)', async () => {
      const res = await put(`/v1/records/${recordId}`, police, {
        subjectRole: 'child',
        classification: 'OFFICIAL',
        occurredAt: '2026-11-20T21:30:00Z',
        fields: { incident_summary: 'x' },
      });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].pointer).toBe('/headers/if-match');
    });

    it('lets only the owning agency change a record: 403 to an agency that knows the subject, 404 to one that does not', async () => {
      const body = {
        subjectRole: 'child',
        classification: 'OFFICIAL',
        occurredAt: '2026-11-20T21:30:00Z',
        fields: { incident_summary: 'Rewritten by someone else' },
      };
      expect((await put(`/v1/records/${recordId}`, school, body, '"2"')).status).toBe(403);
      const stranger = await put(`/v1/records/${recordId}`, health, body, '"2"');
      const nothing = await put(`/v1/records/${randomUUID()}`, health, body, '"2"');
      expect(stranger.status).toBe(404);
      expect(stranger.body.detail).toBe(nothing.body.detail);
      expect((await gw.db.asOwner<{ version: number }>('SELECT version FROM records WHERE id = $1', [recordId]))[0]?.version).toBe(2);
    });

    it('checks the new content against the record kind', async () => {
      const res = await put(
        `/v1/records/${recordId}`,
        police,
        { subjectRole: 'child', classification: 'OFFICIAL', occurredAt: '2026-11-20T21:30:00Z', fields: { wellbeing_concerns: 'x' } },
        '"2"',
      );
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toEqual(expect.objectContaining({ pointer: '/fields/wellbeing_concerns', word: 'wellbeing_concerns' }));
    });
  });

  it('gives the application role no DELETE anywhere in the record store, and only SELECT on the agreements', async () => {
    const privileges = await gw.db.asOwner<{ t: string; p: string; has: boolean }>(
      `SELECT t, p, has_table_privilege('safeguard_app', t, p) AS has
         FROM unnest(ARRAY['persons', 'person_agency_links', 'person_field_values', 'households', 'household_members', 'records', 'sharing_agreements', 'idempotency_keys']) AS t,
              unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p`,
    );
    const granted = (t: string) =>
      privileges
        .filter((r) => r.t === t && r.has)
        .map((r) => r.p)
        .sort();
    for (const t of ['persons', 'person_agency_links', 'person_field_values', 'records', 'idempotency_keys'])
      expect(granted(t)).toEqual(['INSERT', 'SELECT', 'UPDATE']);
    for (const t of ['households', 'household_members']) expect(granted(t)).toEqual(['INSERT', 'SELECT']);
    expect(granted('sharing_agreements')).toEqual(['SELECT']);
  });

  it('refuses an NHS number whose check digit is wrong', async () => {
    const res = await post('/v1/persons', health, { identifiers: { nhs_number: '9990000019' } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual(
      expect.objectContaining({ pointer: '/identifiers/nhs_number', detail: expect.stringContaining('check digit') }),
    );
  });

  describe('households', () => {
    it('records a household and its members; only people the agency knows, only in its own households', async () => {
      const household = await post('/v1/households', police, { area: 'Testshire', address: '1 Example Row' });
      expect(household.status).toBe(201);
      const member = await post(`/v1/households/${household.body.id}/members`, police, {
        personId: childId,
        subjectRole: 'child',
        from: '2019-02-14',
      });
      expect(member.status).toBe(201);
      expect(member.body).toEqual({ id: expect.any(String), householdId: household.body.id, personId: childId, subjectRole: 'child' });
      expect(
        (
          await post(`/v1/households/${household.body.id}/members`, police, {
            personId: randomUUID(),
            subjectRole: 'perpetrator',
            from: '2026-01-01',
          })
        ).status,
      ).toBe(404);
      expect(
        (await post(`/v1/households/${household.body.id}/members`, school, { personId: childId, subjectRole: 'child', from: '2019-02-14' }))
          .status,
      ).toBe(404);
      const backwards = await post(`/v1/households/${household.body.id}/members`, police, {
        personId: childId,
        subjectRole: 'child',
        from: '2026-01-01',
        to: '2025-01-01',
      });
      expect(backwards.status).toBe(400);
    });
  });
});
