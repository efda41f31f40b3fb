/**
 * `npm run witness`: an independent C2SP tlog-witness for the audit ledger (src/witness/witness.ts), configured by
 * WITNESS_DIR, WITNESS_NAME, WITNESS_HOST, WITNESS_PORT and WITNESS_LOGS (src/witness/config.ts). Prints its URL and
 * its verifier key (for the gateway's LEDGER_WITNESSES), then serves until SIGINT/SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import { loadWitnessSettings } from '../config';
import { loadWitnessKey } from '../witness/config';
import { WitnessState } from '../witness/state';
import { Witness, witnessServer } from '../witness/witness';

function main(): void {
  const config = loadWitnessSettings();
  const witness = new Witness({ signer: loadWitnessKey(config.dir, config.name), logs: config.logs, state: new WitnessState(config.dir) });
  const server = witnessServer(witness);
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(
      `${JSON.stringify({ witness: config.name, url: `http://${config.host}:${port}`, vkey: witness.vkey, logs: [...config.logs.keys()] })}\n`,
    );
  });
  const stop = (): void => void server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

try {
  main();
} catch (e) {
  process.stderr.write(`witness: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
