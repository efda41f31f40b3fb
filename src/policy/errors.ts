import { SafeguardError } from '../errors';
/**
 * A policy file that cannot be trusted stops the gateway from starting. The message names the file, the rule
 * and the problem, so the person who edited the policy can fix it without reading code:
 *
 *   policies/marac.yaml rule "marac-agency-to-marac": fields[2] "favourite_colour" is not a field (allowed: name, ...)
 */
export class PolicyLoadError extends SafeguardError {
  readonly code = 'policy_load_error' as const;
  constructor(
    /** The file as the loader was given it, e.g. `policies/marac.yaml`. */
    readonly file: string,
    /** The rule's id, or `rules[3]` when the rule has no usable id; absent for file-level problems. */
    readonly rule: string | undefined,
    /** What is wrong, in plain words. */
    readonly problem: string,
  ) {
    super(`${file}${rule === undefined ? '' : rule.startsWith('rules[') ? ` ${rule}` : ` rule "${rule}"`}: ${problem}`);
  }
}
