/**
 * The client certificate behind a request, as the RFC 8705 thumbprint (`x5t#S256`: base64url SHA-256 of the DER):
 *   - from the TLS connection itself (the gateway's own HTTPS listener, src/auth/tls-listener.ts), or
 *   - behind a reverse proxy that terminates TLS: from a configured header (RFC 9440 `Client-Cert: :<base64 DER>:`,
 *     or a URL-encoded PEM as nginx's `$ssl_client_escaped_cert` sends), accepted ONLY when the request comes from
 *     one of the configured proxy addresses. From anywhere else the header is ignored (so it cannot be forged).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Request } from 'express';

export interface ClientCertificateOptions {
  /** Header carrying the certificate from a TLS-terminating proxy (e.g. `client-cert`, `x-ssl-client-cert`). */
  readonly header?: string;
  /** Addresses of those proxies; the header is honoured only from them. */
  readonly trustedProxies?: readonly string[];
}

export function thumbprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

function normaliseAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The DER of a certificate sent in a proxy header, or undefined if it is not one. */
export function certificateFromHeader(value: string): Buffer | undefined {
  const trimmed = value.trim();
  try {
    const rfc9440 = /^:([A-Za-z0-9+/=]+):$/.exec(trimmed);
    if (rfc9440?.[1]) return new X509Certificate(Buffer.from(rfc9440[1], 'base64')).raw;
    const pem = trimmed.includes('%') ? decodeURIComponent(trimmed) : trimmed;
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
      // Some proxies fold the PEM onto one line with spaces for newlines.
      const body = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1]?.replace(/\s+/g, '') ?? '';
      const lines = body.match(/.{1,64}/g) ?? [];
      return new X509Certificate(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`).raw;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export function clientCertificateThumbprint(req: Request, options: ClientCertificateOptions = {}): string | undefined {
  const socket = req.socket;
  if (socket instanceof TLSSocket) {
    const cert = socket.getPeerCertificate?.(false);
    const raw = cert && typeof cert === 'object' ? (cert as { raw?: unknown }).raw : undefined;
    if (Buffer.isBuffer(raw) && raw.length > 0) return thumbprintOf(raw);
  }
  if (!options.header || !options.trustedProxies?.length) return undefined;
  const value = req.headers[options.header.toLowerCase()];
  if (typeof value !== 'string' || value === '') return undefined;
  if (!options.trustedProxies.includes(normaliseAddress(socket.remoteAddress))) return undefined;
  const der = certificateFromHeader(value);
  return der ? thumbprintOf(der) : undefined;
}
