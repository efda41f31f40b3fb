/** Who acted, as the ledger records it: taken from the verified token (the `Principal`), never from a request body. */
import type { Principal } from '../auth/principal';
import type { AuditActor } from './entry';

export function actorOf(principal: Principal): AuditActor {
  return {
    agencyId: principal.agency.id,
    agencyType: principal.agency.agencyType,
    clientId: principal.clientId,
    role: principal.role,
    ...(principal.practitioner ? { practitioner: principal.practitioner.subject } : {}),
    issuer: principal.issuer,
  };
}
