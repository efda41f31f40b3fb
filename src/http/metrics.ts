/** Prometheus metrics (prom-client): process metrics, requests by route and status, decisions by outcome. */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });
// prom-client names three gauges `…_total`, which Prometheus reserves for counters (`promtool check metrics`
// objects). The same numbers stay published as nodejs_active_handles, nodejs_active_requests, nodejs_active_resources.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
  registry.removeSingleMetric(name);

const requests = new Counter({
  name: 'safeguard_http_requests_total',
  help: 'HTTP requests by method and status',
  labelNames: ['method', 'status'] as const,
  registers: [registry],
});

export const decisionsTotal = new Counter({
  name: 'safeguard_decisions_total',
  help: 'Disclosure decisions by outcome, through the API and the pages (each one recorded in the audit ledger)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export function countRequest(req: Request, res: Response, next: NextFunction): void {
  res.on('finish', () => requests.inc({ method: req.method, status: String(res.statusCode) }));
  next();
}

export function metricsRouter(): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
