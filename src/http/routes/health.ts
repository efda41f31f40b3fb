/** Liveness and readiness. Readiness checks the database (as the app role) and every trusted issuer. */
import { Router } from 'express';
import type { Pool } from 'pg';
import type { TokenVerifier } from '../../auth/token-verifier';

export function healthRouter(deps: { pool: Pool; verifier: TokenVerifier; policyVersion: string }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const database = await deps.pool.query('SELECT 1').then(
      () => ({ ok: true }),
      () => ({ ok: false, detail: 'the database cannot be reached' }),
    );
    const issuers = await deps.verifier.checkIssuers();
    const ready = database.ok && issuers.every((i) => i.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', database, issuers, policyVersion: deps.policyVersion });
  });
  return router;
}
