/**
 * The one set of environment readers. Only configuration (src/config.ts and the `load…Config` functions it calls)
 * reads the environment, through these: a bad value throws ConfigError naming the variable; nothing is guessed.
 */
import { SafeguardError } from './errors';

/** A setting is not valid. Start-up stops with `message`, which names the variable. */
export class ConfigError extends SafeguardError {
  readonly code = 'config_invalid' as const;
}

export type Env = NodeJS.ProcessEnv;

/** A whole number from `min` to `max`; absent or empty → `fallback`. */
export function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  error: new (message: string) => ConfigError = ConfigError,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/** on/off (also 1/0, true/false, yes/no); absent or empty → `fallback`. */
export function flag(env: Env, name: string, fallback: boolean, error: new (message: string) => ConfigError = ConfigError): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new error(`${name} must be on or off, got "${raw}"`);
}

/** A non-empty string, or undefined when absent or empty. */
export function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}
