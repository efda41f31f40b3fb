import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('database set-up', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('runs the migrations and lets the application role connect', async () => {
    const migrations = await db.asOwner<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id');
    expect(migrations.map((m) => m.name)).toContain('AppRoleAndAgencies1763880000000');
    const app = new Client({ connectionString: db.appUrl });
    await app.connect();
    try {
      const who = await app.query<{ current_user: string }>('SELECT current_user');
      expect(who.rows[0]?.current_user).toBe('safeguard_app');
    } finally {
      await app.end();
    }
  });

  it('gives the application role read-only access to the trust registry', async () => {
    const app = new Client({ connectionString: db.appUrl });
    await app.connect();
    try {
      await expect(app.query('SELECT count(*) FROM agencies')).resolves.toBeDefined();
      await expect(
        app.query(
          `INSERT INTO agencies (id, name, agency_type, issuer, client_ids, allowed_roles) VALUES ('x-agency','x','police','https://x',ARRAY['x'],ARRAY['system'])`,
        ),
      ).rejects.toThrow(/permission denied/);
      await expect(app.query('CREATE TABLE sneaky (id int)')).rejects.toThrow(/permission denied/);
    } finally {
      await app.end();
    }
  });
});
