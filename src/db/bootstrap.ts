/**
 * Prepares a database for the gateway: runs the TypeORM migrations as the owner (DATABASE_URL), then lets the
 * least-privilege application role log in, and returns the URL the gateway itself uses.
 */
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { escapeLiteral } from 'pg';
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

export function migrationDataSource(ownerUrl: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url: ownerUrl,
    migrations: [...MIGRATIONS],
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    logging: false,
  });
}

export async function runMigrations(ownerUrl: string): Promise<string[]> {
  const ds = migrationDataSource(ownerUrl);
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await ds.destroy();
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
