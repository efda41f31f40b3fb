/**
 * The trust registry is configuration (AGENCIES_FILE); at start-up it is written to the `agencies` table as the
 * owner, so that what the gateway trusted at any time is visible in the database. The app role can only read it.
 */
import { createClient } from './pool';
import type { Agency } from '../auth/registry';
import { transaction } from './tx';

export async function syncAgencies(ownerUrl: string, agencies: readonly Agency[]): Promise<void> {
  const db = createClient(ownerUrl);
  await db.connect();
  try {
    await transaction(db, async () => {
      for (const a of agencies) {
        await db.query(
          `INSERT INTO agencies (id, name, agency_type, issuer, client_ids, allowed_roles, area, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (id) DO UPDATE SET name = $2, agency_type = $3, issuer = $4, client_ids = $5, allowed_roles = $6, area = $7, updated_at = now()`,
          [a.id, a.name, a.agencyType, a.issuer, a.clientIds, a.allowedRoles, a.area ?? null],
        );
      }
      await db.query('DELETE FROM agencies WHERE NOT (id = ANY($1))', [agencies.map((a) => a.id)]);
    });
  } finally {
    await db.end();
  }
}
