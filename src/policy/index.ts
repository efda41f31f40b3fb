/**
 * The sharing-policy engine: `loadPolicyCatalogue(dir)` reads and validates `dir/*.yaml` (a bad file throws a
 * `PolicyLoadError` naming file, rule and problem), compiles the rules into a CASL ability, and returns an engine
 * whose `decide()` never throws.
 *
 *   loader.ts  YAML → validated PolicyRule[] (schema.ts: the JSON Schema built from the vocabulary)
 *   compile.ts PolicyRule[] → CASL ability (why CASL, and how deny overrides permit), indexed by the parties
 *   decide.ts  the decision path, per field
 *   words.ts   plain-English phrases for reasons
 */
import { indexPolicy } from './compile';
import { createEngine, type PolicyCatalogueEngine } from './decide';
import { loadCatalogue, type LoadOptions } from './loader';

export function loadPolicyCatalogue(dir: string, options: LoadOptions = {}): PolicyCatalogueEngine {
  const catalogue = loadCatalogue(dir, options);
  return createEngine(catalogue, indexPolicy(catalogue.rules));
}

export { PolicyLoadError } from './errors';
export { EVALUATION_FAILED_REASON, NO_FIELDS_REASON, type PolicyCatalogueEngine } from './decide';
export type { PolicyCatalogue, PolicyRule, Effect, Selector, FactTest } from './model';
export type * from './types';
