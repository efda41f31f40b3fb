/**
 * The HTTP POST of one notification. The default transport is node:http(s) with the checked lookup of
 * ./webhook-url.ts (the socket connects only to an address the policy allows), no redirects, a time limit, and the
 * receiver's answer body discarded unread. Tests and other deployments may pass a fetch-compatible function instead.
 */
import http from 'node:http';
import https from 'node:https';
import { checkedLookup, type UrlPolicy } from './webhook-url';

export interface WebhookInit {
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal: AbortSignal;
  readonly redirect: 'manual';
}

/** What the dispatcher needs from an HTTP client: the global `fetch` fits. Only the status is read. */
export type WebhookFetch = (url: string, init: WebhookInit) => Promise<{ readonly status: number }>;

export function safeTransport(policy: UrlPolicy): WebhookFetch {
  const lookup = checkedLookup(policy);
  return (url, init) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
      if (!client) {
        reject(new Error('unsupported protocol'));
        return;
      }
      const req = client.request(
        target,
        {
          method: init.method,
          headers: { ...init.headers, 'Content-Length': String(Buffer.byteLength(init.body)) },
          lookup,
          signal: init.signal,
          agent: false,
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
}
