/**
 * The gateway's one log format (pino JSON lines), for the serving thread and for the sealer thread
 * (src/audit/checkpoints/sealer-thread.ts), which hands its lines to the serving thread's logger.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'safeguard-gateway', pid: process.pid },
    // Tokens, cookies and secrets never reach the log.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.client_secret',
        '*.access_token',
        '*.token',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
