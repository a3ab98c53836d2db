import type { OperationKind } from '../core/operations.js';

/** The audit event catalogue (DESIGN.md, "Events"). */
export const EVENT_TYPES = [
  'idm_integration_activate',
  'idm_integration_update',
  'idm_integration_reauth',
  'idm_integration_delete',
  'user_create_provision',
  'user_update_provision',
  'user_deprovision',
  'user_delete_provision',
  'user_lookup_provision',
  'group_create_provision',
  'group_update_provision',
  'group_delete_provision',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
export const EVENT_RESULTS = ['success', 'failure', 'skipped'] as const;
export type EventResult = (typeof EVENT_RESULTS)[number];

export interface NewEvent {
  time: string;
  integration: string;
  cycleId?: string | null;
  type: EventType;
  result: EventResult;
  sourceId?: string | null;
  targetId?: string | null;
  summary: string;
  /** Changed attributes, HTTP status, scimType/detail, attempts, duration ms. Never a secret. */
  detail?: Record<string, unknown>;
}

export interface EventRecord extends Required<Omit<NewEvent, 'detail'>> {
  id: number;
  detail: Record<string, unknown>;
}

/** The event an operation's attempt writes. */
export function eventTypeOf(kind: OperationKind): EventType {
  switch (kind) {
    case 'user.create':
      return 'user_create_provision';
    case 'user.update':
    case 'user.reactivate':
      return 'user_update_provision';
    case 'user.deactivate':
      return 'user_deprovision';
    case 'user.delete':
      return 'user_delete_provision';
    case 'group.create':
      return 'group_create_provision';
    case 'group.update':
    case 'group.members.add':
    case 'group.members.remove':
      return 'group_update_provision';
    case 'group.delete':
      return 'group_delete_provision';
  }
}
