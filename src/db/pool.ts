/**
 * Every connection pool of the gateway is made here, so that every pool AND every client in it has an 'error'
 * listener. node-postgres emits 'error' on a client whose server connection breaks (PostgreSQL killed, an OOM kill,
 * a failover: ECONNRESET, or "terminating connection due to administrator command"). The pool listens on IDLE
 * clients only; a client that is checked out (inside a transaction, between two queries) has no listener of the
 * pool's, and an 'error' event with no listener crashes the process ("Unhandled 'error' event ... on Client
 * instance"). The query in flight is rejected anyway, so the listener only has to log; a broken client is not
 * returned to the pool (pg-pool drops a client that is no longer queryable).
 *
 * While the gateway is closing, connections ended by a stopping server are expected: logged at debug, not as errors.
 */
import { Client, Pool, type ClientConfig, type PoolConfig } from 'pg';

export interface DbLogger {
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ManagedPool extends Pool {
  /** From now on, connection errors are part of shutting down (logged at debug). */
  markClosing(): void;
}

export function createPool(config: PoolConfig & { readonly name: string }, logger: DbLogger): ManagedPool {
  const { name, ...poolConfig } = config;
  const pool = new Pool({ application_name: name, ...poolConfig }) as ManagedPool;
  let closing = false;
  const report =
    (where: string) =>
    (err: Error): void => {
      if (closing) logger.debug({ err, pool: name }, `database connection closed while stopping (${where})`);
      else logger.error({ err, pool: name }, `database connection lost (${where}); the pool reconnects on the next request`);
    };
  pool.on('error', report('idle connection'));
  // A listener of our own on every client for its whole life, checked out or idle.
  pool.on('connect', (client) => {
    client.on('error', report('connection in use'));
  });
  pool.markClosing = () => {
    closing = true;
  };
  return pool;
}

/** A single connection (migrations, registry sync, CLIs) with an 'error' listener, so a dropped server is a rejected query, not a crash. */
export function createClient(config: ClientConfig | string, onError: (err: Error) => void = () => undefined): Client {
  const client = new Client(typeof config === 'string' ? { connectionString: config } : config);
  client.on('error', onError);
  return client;
}
