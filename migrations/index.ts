/** Every migration, in order. Listed explicitly (no globbing) so what runs is what you read here. */
import { AppRoleAndAgencies1763880000000 } from './1763880000000-AppRoleAndAgencies';
import { AuditLedger1763880100000 } from './1763880100000-AuditLedger';
import { Records1763880200000 } from './1763880200000-Records';
import { LedgerCheckpoints1763880300000 } from './1763880300000-LedgerCheckpoints';
import { Notifications1763880400000 } from './1763880400000-Notifications';
import { Workflows1796153923569 } from './1796153923569-Workflows';
import { LedgerWitnessing1796154223477 } from './1796154223477-LedgerWitnessing';
import { AnonymousRefusals1796155273884 } from './1796155273884-AnonymousRefusals';
import { SharedSessionsAndLimits1796156508049 } from './1796156508049-SharedSessionsAndLimits';
import { LedgerRefs1796162200000 } from './1796162200000-LedgerRefs';
import { LedgerCheaperChecks1796163000000 } from './1796163000000-LedgerCheaperChecks';
import { LedgerChainsOnto1796164000000 } from './1796164000000-LedgerChainsOnto';

export const MIGRATIONS = [
  AppRoleAndAgencies1763880000000,
  AuditLedger1763880100000,
  Records1763880200000,
  LedgerCheckpoints1763880300000,
  Notifications1763880400000,
  Workflows1796153923569,
  LedgerWitnessing1796154223477,
  AnonymousRefusals1796155273884,
  SharedSessionsAndLimits1796156508049,
  LedgerRefs1796162200000,
  LedgerCheaperChecks1796163000000,
  LedgerChainsOnto1796164000000,
] as const;
