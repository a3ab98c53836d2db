import { createSource } from '../../../connectors/index.js';
import { resolveProfile } from '../../../connectors/profiles/index.js';
import type { Config, IntegrationConfig } from '../../config/schema.js';
import type { RuleProblem } from '../../core/map.js';
import type { Operation } from '../../core/operations.js';
import type { UnwritableValue } from '../../core/target-schema.js';
import { ConfigError, type ExitCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { userBody } from '../../scim/bodies.js';
import { previewCycle } from '../cycle.js';
import type { MassDeprovision } from '../report.js';
import { openState } from '../state-access.js';

export type { RuleProblem } from '../../core/map.js';
export type { Operation } from '../../core/operations.js';
export { unwritableReason, type UnwritableValue } from '../../core/target-schema.js';
export type { MassDeprovision } from '../report.js';
export { describeOperation, operationDetails } from './describe.js';

/** One source user explained: its attributes, the SCIM resource they map to, and its operations. */
export interface UserExplanation {
  integration: string;
  user: string;
  /** The source row's attributes, and the active flag as read. */
  source: Record<string, unknown>;
  /** The SCIM User the mapping makes (references to other users shown as placeholders). */
  resource: Record<string, unknown>;
  /** Mapping rules that make the user not sendable. */
  problems: RuleProblem[];
  operations: Operation[];
}

/** What the next cycle of one integration would send, without sending it. */
export interface PlanPreview {
  integration: string;
  operations: Operation[];
  /** A mass deprovision the cycle would hold for approval (or apply, approved). */
  hold?: MassDeprovision | undefined;
  exitCode: ExitCode;
  /** With `onlyUser`: that user explained. */
  user?: UserExplanation | undefined;
  /** Values left out because the target's schema forbids writing them. */
  unwritable: UnwritableValue[];
}

export interface PlanPreviewOptions {
  config: Config;
  logger: Logger;
  integrations: readonly IntegrationConfig[];
  /** Only this source user's operations, with the user explained (`plan --user`). */
  onlyUser?: string | undefined;
}

async function explainUser(integration: IntegrationConfig, userId: string, operations: Operation[]): Promise<UserExplanation> {
  const { snapshot } = await createSource(integration).snapshot();
  const user = snapshot.users.find((u) => u.id === userId);
  if (!user) throw new ConfigError(`--user ${userId}: no user with this id in the source of integration ${integration.name}`);
  const mapped = await resolveProfile(integration).mapper.map(user);
  const { body } = userBody({ ...mapped.attrs, ...mapped.createOnly }, { active: user.active, resolve: (id) => `<target id of ${id}>` });
  // The row's attributes (its id is the user's, already shown) and the active flag as read.
  const source: Record<string, unknown> = { ...user.attributes };
  delete source.id;
  delete source.active;
  source.active = user.active;
  return { integration: integration.name, user: userId, source, resource: body, problems: mapped.problems, operations };
}

/**
 * The plan of each integration in turn, as a cycle prepares it (nothing is sent, nothing
 * written); the state is open while they are made.
 */
export async function* previewPlans(options: PlanPreviewOptions): AsyncGenerator<PlanPreview> {
  const { logger, onlyUser } = options;
  const store = openState(options.config);
  try {
    for (const integration of options.integrations) {
      const report = await previewCycle({ integration, store, logger, ...(onlyUser !== undefined ? { onlyUser } : {}) });
      const preview: PlanPreview = { integration: integration.name, operations: report.operations, hold: report.hold, exitCode: report.exitCode, unwritable: report.unwritable ?? [] };
      if (onlyUser !== undefined) preview.user = await explainUser(integration, onlyUser, report.operations);
      yield preview;
    }
  } finally {
    store.close();
  }
}
