/**
 * The optional HTTPS listener (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE, TLS_PORT): it asks every client
 * for a certificate. A client may connect without one (bearer tokens, the pages), but a certificate that is
 * presented must chain to TLS_CLIENT_CA_FILE when that is set — otherwise the connection is closed — so a
 * certificate-bound token (RFC 8705) is checked against a certificate that was verified for real. Without a CA file,
 * any certificate the client proves it holds is taken (RFC 8705 §2.2, self-signed certificate binding).
 * Behind a reverse proxy instead: CLIENT_CERT_HEADER with TRUSTED_PROXIES (src/auth/client-certificate.ts).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestListener, ServerOptions } from 'node:http';
import { ConfigError, integer, text, type Env } from '../env';
import type { ClientCertificateOptions } from './client-certificate';

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
  readonly port: number;
}

export interface TransportConfig {
  readonly tls?: TlsSettings;
  readonly clientCertificates: ClientCertificateOptions;
}

export function loadTransportConfig(env: Env): TransportConfig {
  const certFile = text(env, 'TLS_CERT_FILE');
  const keyFile = text(env, 'TLS_KEY_FILE');
  const clientCaFile = text(env, 'TLS_CLIENT_CA_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  if (clientCaFile && !certFile) throw new ConfigError('TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE (the HTTPS listener)');
  const header = text(env, 'CLIENT_CERT_HEADER');
  const proxies = (text(env, 'TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of proxies) if (isIP(p) === 0) throw new ConfigError(`TRUSTED_PROXIES must list IP addresses, got "${p}"`);
  if (header && proxies.length === 0)
    throw new ConfigError('CLIENT_CERT_HEADER needs TRUSTED_PROXIES: the addresses of the proxies allowed to send it');
  if (header && !/^[A-Za-z0-9-]{1,100}$/.test(header)) throw new ConfigError(`CLIENT_CERT_HEADER must be a header name, got "${header}"`);
  return {
    ...(certFile && keyFile
      ? { tls: { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}), port: integer(env, 'TLS_PORT', 8443, 0, 65535) } }
      : {}),
    clientCertificates: header ? { header, trustedProxies: proxies } : {},
  };
}

/**
 * An HTTPS server for `listener` that requests client certificates and refuses any that does not chain to the CA.
 * `classes`: the request and response classes it builds (the composition root gives the app's, as for the HTTP
 * listener: src/http/express-classes.ts).
 */
export function createTlsServer(
  settings: Omit<TlsSettings, 'port'>,
  listener: RequestListener,
  classes: Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> = {},
): https.Server {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError(`${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const server = https.createServer(
    {
      cert: read(settings.certFile, 'TLS_CERT_FILE'),
      key: read(settings.keyFile, 'TLS_KEY_FILE'),
      ...(settings.clientCaFile ? { ca: read(settings.clientCaFile, 'TLS_CLIENT_CA_FILE') } : {}),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...classes,
    },
    listener,
  );
  if (settings.clientCaFile) {
    server.on('secureConnection', (socket: TLSSocket) => {
      const presented = Object.keys(socket.getPeerCertificate?.(false) ?? {}).length > 0;
      if (presented && !socket.authorized) socket.destroy();
    });
  }
  return server;
}
