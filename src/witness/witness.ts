/**
 * An independent witness (C2SP tlog-witness), run by `npm run witness` as a separate process with its own key and its
 * own data directory — in production on another host, run by another organisation.
 *
 *   POST /add-checkpoint            body: `old <size>\n`, consistency proof lines (base64), a blank line, the
 *                                   log's signed note. 200: the cosignature/v1 line (text/plain).
 *                                   400 malformed or old > size; 403 no signature by a known key of that log;
 *                                   404 unknown origin; 409 `old` is not the size this witness holds (body: that
 *                                   size, text/x.tlog.size); 422 the consistency proof does not verify.
 *   GET  /checkpoint?origin=<o>     the latest checkpoint it cosigned for that log, cosigned (extension).
 *   GET  /key                       its cosignature/v1 verifier key (extension; give it to the log's operator).
 *
 * A checkpoint is cosigned only if the log's signature verifies and it is consistent with the last one this witness
 * cosigned; the new state is on disk before the answer is sent. Requests for one log are handled one at a time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fromHex, verifyConsistency } from '../audit/merkle';
import {
  cosignatureLine,
  cosignatureVerifierKey,
  openNote,
  parseCheckpointBody,
  type NoteSigner,
  type NoteVerifier,
} from '../audit/checkpoints/note';
import { WitnessState } from './state';

export interface WitnessOptions {
  readonly signer: NoteSigner;
  /** Known logs: origin → the log's note verifier keys (every version, after a key rotation). */
  readonly logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly state: WitnessState;
  /** Seconds since the epoch (tests may fix it). */
  readonly now?: () => number;
}

const MAX_BODY = 64 * 1024;

export interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

const text = (status: number, body: string, type = 'text/plain; charset=utf-8'): Answer => ({
  status,
  type,
  body: body.endsWith('\n') ? body : `${body}\n`,
});

/** The witness's protocol logic, without HTTP (see the file comment). */
export class Witness {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: WitnessOptions) {}

  get vkey(): string {
    return cosignatureVerifierKey(this.options.signer.name, this.options.signer.key.raw);
  }

  addCheckpoint(request: string): Promise<Answer> {
    const next = this.queue.then(() => this.add(request));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private add(request: string): Answer {
    const split = request.indexOf('\n\n');
    if (split < 0) return text(400, 'the request has no blank line before the checkpoint');
    const header = request.slice(0, split).split('\n');
    const note = request.slice(split + 2);
    const oldMatch = /^old (0|[1-9]\d{0,15})$/.exec(header[0] ?? '');
    if (!oldMatch) return text(400, 'the first line must be "old <size>"');
    const oldSize = Number(oldMatch[1]);
    const proofLines = header.slice(1);
    if (proofLines.length > 63) return text(400, 'the consistency proof is too long');
    const proof: Buffer[] = [];
    for (const line of proofLines) {
      const b = /^[A-Za-z0-9+/]{43}=$/.test(line) ? Buffer.from(line, 'base64') : null;
      if (!b || b.length !== 32) return text(400, 'a consistency proof line is not a base64 SHA-256 hash');
      proof.push(b);
    }
    const bodyText = note.slice(0, Math.max(0, note.lastIndexOf('\n\n') + 1));
    const body = parseCheckpointBody(bodyText);
    if (!body) return text(400, 'the checkpoint is not a signed tlog-checkpoint note');
    const verifiers = this.options.logs.get(body.origin);
    if (!verifiers) return text(404, `unknown log origin ${body.origin}`);
    const opened = openNote(note, verifiers);
    if (!opened || opened.parsed.text !== bodyText)
      return text(403, 'the checkpoint carries no valid signature by a known key of this log');
    if (oldSize > body.treeSize) return text(400, `old size ${oldSize} is larger than the checkpoint's ${body.treeSize}`);

    const held = this.options.state.get(body.origin);
    const heldSize = held?.size ?? 0;
    if (oldSize !== heldSize) return { status: 409, type: 'text/x.tlog.size', body: `${heldSize}\n` };
    if (held) {
      const consistent =
        oldSize === body.treeSize
          ? proof.length === 0 && held.rootHash === body.rootHash
          : verifyConsistency(oldSize, body.treeSize, fromHex(held.rootHash), fromHex(body.rootHash), proof);
      if (!consistent)
        return text(
          422,
          `the checkpoint of ${body.treeSize} entries is not consistent with the one of ${heldSize} entries this witness cosigned`,
        );
    } else if (proof.length !== 0) {
      return text(422, 'a consistency proof from size 0 must be empty');
    }
    const timestamp = (this.options.now ?? (() => Math.floor(Date.now() / 1000)))();
    const line = cosignatureLine(bodyText, this.options.signer, timestamp);
    // Strip any earlier cosignatures: only the log's own signatures and this witness's line are kept.
    const logSigs = opened.parsed.signatures
      .filter((s) => verifiers.some((v) => v.name === s.name))
      .map((s) => s.line)
      .join('');
    this.options.state.put(body.origin, {
      size: body.treeSize,
      rootHash: body.rootHash,
      cosignedNote: `${bodyText}\n${logSigs}${line}`,
      cosignedAt: timestamp,
    });
    return text(200, line);
  }

  latest(origin: string): Answer {
    const held = this.options.state.get(origin);
    return held ? text(200, held.cosignedNote) : text(404, `no checkpoint of ${origin} has been cosigned`);
  }
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, { 'content-type': a.type, 'cache-control': 'no-store' });
  res.end(a.body);
}

/** The witness's HTTP server (node:http; nothing else runs in the witness process). */
export function witnessServer(witness: Witness): Server {
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://witness');
      if (url.pathname === '/add-checkpoint') {
        if (req.method !== 'POST') return send(res, text(405, 'use POST'));
        const body = await readBody(req);
        if (body === null) return send(res, text(413, 'the request is too large'));
        return send(res, await witness.addCheckpoint(body));
      }
      if (url.pathname === '/checkpoint' && req.method === 'GET') return send(res, witness.latest(url.searchParams.get('origin') ?? ''));
      if (url.pathname === '/key' && req.method === 'GET') return send(res, text(200, witness.vkey));
      return send(res, text(404, 'not found'));
    })().catch(() => {
      if (!res.headersSent) send(res, text(500, 'the witness could not answer'));
      else res.destroy();
    });
  });
}
