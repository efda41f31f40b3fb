/**
 * The ledger contract checked by code nobody here wrote: Go's golang.org/x/mod/sumdb/note opens the served
 * checkpoint with the served verifier key (ignoring the witness's cosignature line, which it does not know), and
 * golang.org/x/mod/sumdb/tlog checks an entry's inclusion proof against the note's root (tests/interop/go/).
 * Needs Debian's golang-go and golang-golang-x-mod-dev (.ci/run installs them); built in GOPATH mode, no network.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { startWitness, type WitnessProcess } from '../support/witness-process';
import { loadGatewayKeys } from '../../src/keys/gateway-keys';

const GOPATH = '/usr/share/gocode';
let binary: string;
let gw: TestGateway;
let witness: WitnessProcess;
let server: http.Server;
let base: string;

beforeAll(async () => {
  if (!existsSync(path.join(GOPATH, 'src/golang.org/x/mod/sumdb/note/note.go'))) {
    throw new Error("Go's golang.org/x/mod is missing: apt-get install golang-go golang-golang-x-mod-dev (.ci/run does)");
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'sg-go-'));
  binary = path.join(out, 'verify-checkpoint');
  execFileSync('go', ['build', '-o', binary, 'verify_checkpoint.go'], {
    cwd: path.resolve(__dirname, '../interop/go'),
    env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: path.join(out, 'cache'), GOFLAGS: '' },
    stdio: 'pipe',
  });
  const keysDir = mkdtempSync(path.join(os.tmpdir(), 'sg-go-keys-'));
  const keys = await loadGatewayKeys(keysDir, {}, { origin: 'gateway.test/audit-ledger' });
  witness = await startWitness([keys.note().vkey]);
  gw = await startTestGateway({ ledgerTrust: { keysDir, origin: 'gateway.test/audit-ledger', witnesses: witness.spec, quorum: 1 } });
  server = http.createServer(gw.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await gw?.close();
  await witness?.stop();
});

function runGo(...args: string[]): Promise<{ code: number; out: Record<string, unknown> }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 20_000 }, (error, stdout) => {
      resolve({
        code: error ? ((error as { code?: number }).code ?? 1) : 0,
        out: JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>,
      });
    });
  });
}

it("verifies the served cosigned note and a receipt's inclusion proof with Go's sumdb/note and tlog", async () => {
  const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${police}`)
      .send({
        from: { agencyType: 'police' },
        to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        subjectRef: `NP-2026-00${i}`,
        fields: ['name', 'incident_date'],
        facts: { child_present_at_incident: true, hours_since_incident: 0 },
      });
    expect(res.status).toBe(200);
    ids.push(res.body.auditEntryId as string);
  }
  const sealed = await gw.seal();
  expect(sealed.witnessed).toEqual([expect.objectContaining({ outcome: 'cosigned' })]);
  const note = await request(gw.app).get('/v1/audit/checkpoint');
  expect(note.status).toBe(200);
  expect(note.text.split('\n').filter((l) => l.startsWith('— '))).toHaveLength(2);

  for (const id of [ids[0] as string, ids[4] as string]) {
    const r = await runGo(base, police, id);
    expect(r).toEqual({
      code: 0,
      out: expect.objectContaining({
        ok: true,
        origin: 'gateway.test/audit-ledger',
        treeSize: sealed.checkpoint?.treeSize,
        signer: 'gateway.test/audit-ledger',
        unverifiedSignatures: 1,
      }),
    });
  }
});

it("fails in Go when the served key is not the note's signer (the check can fail)", async () => {
  const other = await loadGatewayKeys(mkdtempSync(path.join(os.tmpdir(), 'sg-go-other-')), {}, { origin: 'gateway.test/audit-ledger' });
  const fake = http.createServer((req, res) => {
    if (req.url === '/v1/audit/checkpoint/key') return void res.end(`${other.note().vkey}\n`);
    const forward = http.request(`${base}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  try {
    const police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
    const [row] = await gw.db.asOwner<{ entry_id: string }>(
      "SELECT entry_id::text AS entry_id FROM audit_ledger WHERE kind = 'decision' ORDER BY seq LIMIT 1",
    );
    const r = await runGo(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`, police, row?.entry_id ?? '');
    expect(r.code).not.toBe(0);
    expect(String(r.out.error)).toMatch(/note.Open/);
  } finally {
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  }
});
