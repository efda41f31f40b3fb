/**
 * The witness's own storage: for each log origin, the latest checkpoint it cosigned (size, root, the log's note and
 * its cosignature line), in one JSON file in the witness's data directory. Written to a temporary file, fsynced and
 * renamed into place before the cosignature is answered: a cosignature is never given for a state not on disk.
 */
import { mkdirSync, openSync, fsyncSync, closeSync, writeSync, renameSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface LogState {
  readonly size: number;
  readonly rootHash: string;
  /** The log's signed note for that size, with this witness's cosignature line appended. */
  readonly cosignedNote: string;
  readonly cosignedAt: number;
}

interface StateFile {
  readonly type: 'sg-witness-state';
  readonly v: 1;
  readonly logs: Record<string, LogState>;
}

export class WitnessState {
  private readonly file: string;
  private logs: Record<string, LogState>;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, 'state.json');
    this.logs = {};
    if (existsSync(this.file)) {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<StateFile>;
      if (parsed.type !== 'sg-witness-state' || parsed.v !== 1 || typeof parsed.logs !== 'object' || parsed.logs === null) {
        throw new Error(`${this.file} is not a witness state file`);
      }
      this.logs = parsed.logs;
    }
  }

  get(origin: string): LogState | null {
    return Object.prototype.hasOwnProperty.call(this.logs, origin) ? (this.logs[origin] as LogState) : null;
  }

  /** Durably replaces the state of one log. */
  put(origin: string, state: LogState): void {
    const next = { ...this.logs, [origin]: state };
    const text = `${JSON.stringify({ type: 'sg-witness-state', v: 1, logs: next } satisfies StateFile, null, 2)}\n`;
    const temp = path.join(this.dir, `.state-${randomBytes(6).toString('hex')}`);
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } catch {
      // not every file system fsyncs a directory
    } finally {
      closeSync(dirFd);
    }
    this.logs = next;
  }
}
