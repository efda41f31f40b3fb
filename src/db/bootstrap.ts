/**
 * Prepares a database for the gateway: runs the TypeORM migrations as the owner (DATABASE_URL), then lets the
 * least-privilege application role log in, and returns the URL the gateway itself uses.
 */
import { randomBytes } from 'node:crypto';
import { escapeLiteral, type ClientBase } from 'pg';
import { createClient } from './pool';
import { MIGRATIONS } from '../../migrations';

export const APP_ROLE = 'safeguard_app';

export interface PreparedDatabase {
  /** The owner's URL: migrations and the trust-registry sync only. */
  readonly ownerUrl: string;
  /** The application role's URL: everything the gateway does while serving. */
  readonly appUrl: string;
  /** Names of the migrations this call applied. */
  readonly applied: readonly string[];
}

/** Held (session-level) while migrations are checked and run, so instances starting together never race. */
const MIGRATION_LOCK = '5363656773000001';

/** Names of the listed migrations not yet recorded in `schema_migrations` (all of them on an empty database). */
async function pendingMigrations(owner: ClientBase): Promise<string[]> {
  const names = MIGRATIONS.map((M) => new M().name);
  const table = await owner.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (!table.rows[0]?.present) return names;
  const { rows } = await owner.query<{ name: string }>('SELECT name FROM schema_migrations');
  const done = new Set(rows.map((r) => r.name));
  return names.filter((n) => !done.has(n));
}

/**
 * Runs the migrations not yet applied, as the owner, under an advisory lock. TypeORM (a large library, about a
 * fifth of the start-up time) is loaded only when something is pending: a warm start checks one table and goes on.
 */
export async function runMigrations(ownerUrl: string): Promise<string[]> {
  const owner = createClient(ownerUrl);
  await owner.connect();
  try {
    await owner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    if ((await pendingMigrations(owner)).length === 0) return [];
    const { DataSource } = await import('typeorm');
    const ds = new DataSource({
      type: 'postgres',
      url: ownerUrl,
      migrations: [...MIGRATIONS],
      migrationsTableName: 'schema_migrations',
      migrationsTransactionMode: 'each',
      logging: false,
    });
    await ds.initialize();
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await ds.destroy();
    }
  } finally {
    await owner.end();
  }
}

/**
 * Run migrations; then, unless the operator gave APP_DATABASE_URL, give the application role a fresh password
 * and derive its URL from the owner's.
 */
export async function prepareDatabase(opts: { ownerUrl: string; appUrl?: string; appPassword?: string }): Promise<PreparedDatabase> {
  const applied = await runMigrations(opts.ownerUrl);
  if (opts.appUrl) return { ownerUrl: opts.ownerUrl, appUrl: opts.appUrl, applied };
  const password = opts.appPassword ?? randomBytes(24).toString('base64url');
  const owner = createClient(opts.ownerUrl);
  await owner.connect();
  try {
    await owner.query(`ALTER ROLE ${APP_ROLE} WITH LOGIN PASSWORD ${escapeLiteral(password)}`);
  } finally {
    await owner.end();
  }
  const url = new URL(opts.ownerUrl);
  url.username = APP_ROLE;
  url.password = encodeURIComponent(password);
  return { ownerUrl: opts.ownerUrl, appUrl: url.toString(), applied };
}

/** Create a database (owner = the connecting superuser/owner) on the server behind `adminUrl`; returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  const admin = createClient(adminUrl);
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
