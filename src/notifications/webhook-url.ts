/**
 * Where the gateway may send a webhook — and, just as important, where it may not (server-side request forgery).
 *
 *   - https only. Plain http only to the loopback interface (127.0.0.1, ::1, localhost) and only when the
 *     development flag ALLOW_INSECURE_WEBHOOKS is on; the loopback interface is refused otherwise.
 *   - Never a private, link-local, shared, reserved, multicast or documentation address (10/8, 172.16/12, 192.168/16,
 *     169.254/16 — cloud metadata —, 100.64/10, fc00::/7, fe80::/10, NAT64, 6to4, ...; an IPv4-mapped IPv6 address is
 *     judged as the IPv4 address it maps): as an IP literal, or
 *     as a name that resolves to one. No user:password, no fragment, at most 2 000 characters.
 *   - Checked when the subscription is registered AND again at every delivery, where the connection is made only to
 *     an address the check passed (the checked lookup is the one the socket uses), so a name that later re-points
 *     at an internal address (DNS rebinding) is refused, not followed. Redirects are never followed.
 * Address ranges come from node:net's BlockList (no hand-written address parsing).
 */
import dns from 'node:dns';
import net from 'node:net';

export const MAX_WEBHOOK_URL_LENGTH = 2000;

const blocked = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [
  // IPv4-mapped addresses (::ffff:0:0/96) are checked by BlockList against the IPv4 rules above.
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(address, prefix, 'ipv6');

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);
/** Names that only ever mean something inside a private network. */
const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.intranet', '.lan', '.home.arpa', '.localdomain'];

export interface UrlPolicy {
  /** ALLOW_INSECURE_WEBHOOKS: http, and the loopback interface, for local development and tests only. */
  readonly allowInsecure: boolean;
}

export type AddressVerdict = 'public' | 'loopback' | 'private';

/** Classifies one IP address. Anything that is not a valid address is `private` (refused). */
export function classifyAddress(address: string): AddressVerdict {
  const family = net.isIP(address);
  if (family === 0) return 'private';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(address, type)) return 'loopback';
  return blocked.check(address, type) ? 'private' : 'public';
}

function addressAllowed(address: string, policy: UrlPolicy): boolean {
  const verdict = classifyAddress(address);
  return verdict === 'public' || (verdict === 'loopback' && policy.allowInsecure);
}

export interface UrlCheck {
  readonly ok: boolean;
  /** Plain English, when not ok. */
  readonly problem?: string;
  readonly url?: URL;
  /** The host as an IP literal, when it is one. */
  readonly ipLiteral?: string;
}

/** Everything that can be checked without the network. */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH)
    return { ok: false, problem: `The webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'The webhook URL is not a valid absolute URL.' };
  }
  if (url.username || url.password)
    return { ok: false, problem: 'The webhook URL must not contain a user name or password: the gateway signs every message instead.' };
  if (url.hash) return { ok: false, problem: 'The webhook URL must not have a fragment (#...).' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ipLiteral = net.isIP(host) !== 0 ? host : undefined;
  const isLoopbackHost = ipLiteral ? classifyAddress(ipLiteral) === 'loopback' : LOOPBACK_NAMES.has(host.toLowerCase());
  if (url.protocol === 'http:') {
    if (!(policy.allowInsecure && isLoopbackHost)) {
      return {
        ok: false,
        problem: 'The webhook URL must use https. (Plain http is accepted only for 127.0.0.1 or localhost on a development gateway.)',
      };
    }
  } else if (url.protocol !== 'https:') {
    return { ok: false, problem: 'The webhook URL must use https.' };
  }
  if (isLoopbackHost && !policy.allowInsecure)
    return { ok: false, problem: "The webhook URL points at the gateway's own machine, which is not allowed." };
  if (ipLiteral) {
    if (!addressAllowed(ipLiteral, policy))
      return { ok: false, problem: 'The webhook URL points at a private, internal or reserved network address, which is not allowed.' };
    return { ok: true, url, ipLiteral };
  }
  const lower = host.toLowerCase();
  if (!LOOPBACK_NAMES.has(lower)) {
    if (!lower.includes('.') || INTERNAL_SUFFIXES.some((s) => lower.endsWith(s))) {
      return { ok: false, problem: 'The webhook URL must name a public host (a fully qualified domain name), not an internal one.' };
    }
  }
  return { ok: true, url };
}

export type Resolver = (hostname: string) => Promise<readonly string[]>;

/** Every address a name resolves to (A and AAAA), through the system resolver. */
export const systemResolver: Resolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** The full check at registration: the static checks, then every address the host resolves to. */
export async function verifyWebhookUrl(raw: string, policy: UrlPolicy, resolve: Resolver = systemResolver): Promise<UrlCheck> {
  const check = checkWebhookUrl(raw, policy);
  if (!check.ok || check.ipLiteral || !check.url) return check;
  const host = check.url.hostname;
  // localhost passed the static check only under ALLOW_INSECURE_WEBHOOKS; delivery resolves it through the checked lookup.
  if (LOOPBACK_NAMES.has(host.toLowerCase())) return check;
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch {
    return { ok: false, problem: `The webhook host "${host}" could not be found in DNS.` };
  }
  if (addresses.length === 0) return { ok: false, problem: `The webhook host "${host}" could not be found in DNS.` };
  if (!addresses.every((a) => addressAllowed(a, policy))) {
    return {
      ok: false,
      problem: `The webhook host "${host}" resolves to a private, internal or reserved network address, which is not allowed.`,
    };
  }
  return check;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that resolves through the system resolver and hands the socket only addresses
 * the policy allows: the check and the connection use the same answer.
 */
export function checkedLookup(policy: UrlPolicy): (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses;
      const refused = list.find((a) => !addressAllowed(a.address, policy));
      if (refused || list.length === 0) {
        const e: NodeJS.ErrnoException = new Error(`webhook host ${hostname} resolves to a refused address`);
        e.code = 'EWEBHOOKADDRESS';
        return callback(e, '', 0);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as dns.LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}
