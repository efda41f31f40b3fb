/** GATEWAY_AUDIENCE takes any non-empty string: a URN, a URL, an Entra application id (GUID), an `api://` URI. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GATEWAY_AUDIENCE', () => {
  it.each([
    'urn:safeguard-gateway',
    'https://gateway.example.gov.uk/',
    '6e74172b-be56-4843-9ff4-e66a39bb12e3',
    'api://safeguard-gateway',
    'safeguard-gateway',
  ])('accepts %s', (audience) => {
    expect(loadConfig({ DATA_DIR: dir, GATEWAY_AUDIENCE: audience }).audience).toBe(audience);
  });
  it.each(['', ' ', ' padded '])('refuses %j, naming the variable', (audience) => {
    expect(() => loadConfig({ DATA_DIR: dir, GATEWAY_AUDIENCE: audience })).toThrow(/GATEWAY_AUDIENCE/);
  });
});
