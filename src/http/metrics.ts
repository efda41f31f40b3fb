/** Prometheus metrics (prom-client): process metrics, requests by route and status, decisions by outcome. */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });
// prom-client names three gauges `…_total`, which Prometheus reserves for counters (`promtool check metrics`
// objects). The same numbers stay published as nodejs_active_handles, nodejs_active_requests, nodejs_active_resources.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
  registry.removeSingleMetric(name);

/**
 * A counter whose increments are tallied in a Map and handed to prom-client when the metrics are read (its `collect`,
 * which prom-client calls on every scrape and `get()`): a request costs one Map update, not prom-client's label
 * hashing and validation. What a scrape shows is the same.
 */
function tallied<L extends string>(options: {
  name: string;
  help: string;
  labelNames: readonly L[];
}): {
  inc(labels: Record<L, string>): void;
} {
  const pending = new Map<string, { labels: Record<L, string>; n: number }>();
  const counter = new Counter<L>({
    ...options,
    registers: [registry],
    collect() {
      for (const p of pending.values()) {
        if (p.n === 0) continue;
        this.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  });
  return {
    inc(labels) {
      const key = options.labelNames.map((name) => labels[name]).join('\n');
      const p = pending.get(key);
      if (p) p.n += 1;
      else if (pending.size < 10_000) pending.set(key, { labels, n: 1 });
      else counter.inc(labels);
    },
  };
}

const requests = tallied({
  name: 'safeguard_http_requests_total',
  help: 'HTTP requests by method and status',
  labelNames: ['method', 'status'] as const,
});

/** Decisions by outcome: `decisionsTotal.inc({ outcome })`, once per answered decision. */
export const decisionsTotal = tallied({
  name: 'safeguard_decisions_total',
  help: 'Disclosure decisions by outcome, through the API and the pages (each one recorded in the audit ledger)',
  labelNames: ['outcome'] as const,
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
