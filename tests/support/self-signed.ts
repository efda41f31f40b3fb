/** A self-signed P-256 certificate and its key, made with openssl (real X.509 for the TLS tests), valid one day. */
import { execFileSync } from 'node:child_process';

export function selfSignedCertificate(commonName: string, keyFile: string, certFile: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${commonName}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
}
