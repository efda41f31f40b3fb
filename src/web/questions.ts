/**
 * Which questions "Can I share this?" asks, worked out from the loaded policy catalogue (never a hand-kept list):
 *   - the roles an organisation has: the roles the rules name for recipients of that agency type, and the roles
 *     the trust registry allows that type's agencies, less the roles that never receive (auditor);
 *   - the facts that matter: those tested by any rule that could apply to this sharer, recipient and purpose.
 */
import type { PolicyCatalogue, PolicyRule, Selector } from '../policy/model';
import type { AgencyType, FactName, Purpose, Role } from '../vocabulary/vocabulary';
import { ROLES } from '../vocabulary/vocabulary';
import type { WebAgency } from './page';

const NEVER_RECEIVE: readonly Role[] = ['auditor'];

function selects<T extends string>(selector: Selector<T>, value: T): boolean {
  switch (selector.kind) {
    case 'any':
      return true;
    case 'only':
      return selector.values.includes(value);
    case 'except':
      return !selector.values.includes(value);
  }
}

/** The roles a recipient organisation of this type has, in vocabulary order (at least "practitioner"). */
export function rolesOf(agencyType: AgencyType, catalogue: PolicyCatalogue, agencies: readonly WebAgency[]): Role[] {
  const found = new Set<Role>();
  for (const rule of catalogue.rules) {
    if (!selects(rule.to.agencyTypes, agencyType)) continue;
    if (rule.to.roles.kind === 'only') for (const r of rule.to.roles.values) found.add(r);
  }
  for (const a of agencies) if (a.agencyType === agencyType) for (const r of a.allowedRoles) found.add(r);
  found.add('practitioner');
  // A system receives through the API, not through a practitioner's question.
  found.delete('system');
  for (const r of NEVER_RECEIVE) found.delete(r);
  return ROLES.filter((r) => found.has(r));
}

function ruleMayApply(rule: PolicyRule, from: AgencyType, to: AgencyType, role: Role | undefined, purpose: Purpose): boolean {
  return (
    selects(rule.purposes, purpose) &&
    selects(rule.from.agencyTypes, from) &&
    selects(rule.to.agencyTypes, to) &&
    (!role || selects(rule.to.roles, role))
  );
}

/**
 * Facts the gateway derives from others (src/decisions/derive-facts.ts): when a rule tests the derived fact, the
 * practitioner is asked what it is derived from (the derived fact itself is never asked when only the gateway may
 * give it).
 */
const DERIVED_FROM: Partial<Record<FactName, readonly FactName[]>> = {
  before_next_school_day_start: ['hours_since_incident'],
  significant_harm_suspected: ['s47_enquiry_open'],
};

/** The facts any rule that could apply tests (and what derived ones come from), in the order the vocabulary lists them. */
export function factsUsed(
  catalogue: PolicyCatalogue,
  input: { readonly from: AgencyType; readonly to: AgencyType; readonly role?: Role; readonly purpose: Purpose },
  order: readonly FactName[],
): FactName[] {
  const used = new Set<FactName>();
  for (const rule of catalogue.rules) {
    if (!ruleMayApply(rule, input.from, input.to, input.role, input.purpose)) continue;
    for (const t of rule.when) used.add(t.fact);
    for (const group of rule.whenAny) for (const t of group) used.add(t.fact);
  }
  for (const f of [...used]) for (const input of DERIVED_FROM[f] ?? []) used.add(input);
  return order.filter((f) => used.has(f));
}
