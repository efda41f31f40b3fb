import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const db = globalThis.__SG_EMBEDDED_PG__;
  if (db) await db.stop();
  if (process.env.SG_TEST_PG_DIR) rmSync(process.env.SG_TEST_PG_DIR, { recursive: true, force: true });
}
