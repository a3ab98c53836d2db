/** The queries `state show`, `status` and `events --user` read: objects by any of their names, and counts. */
import type Database from 'better-sqlite3';
import type { ScimAttrs } from '../../src/core/attributes.js';
import type { ObjectStatus } from '../../src/core/records.js';
import type { ObjectCounts, StoredObject } from '../interface.js';
import { escrowOf, type EscrowRow } from './escrow.js';

interface FoundRow {
  integration: string;
  kind: 'user' | 'group';
  source_id: string;
  target_id: string | null;
  status: ObjectStatus;
  attrs: string;
  created_at: string;
  updated_at: string;
}

export class SqliteInspection {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      find: db.prepare<Record<string, string | null>, FoundRow>(
        `SELECT integration, kind, source_id, target_id, status, attrs, created_at, updated_at FROM objects
         WHERE (@integration IS NULL OR integration = @integration)
           AND (source_id = @key OR target_id = @key OR lower(json_extract(attrs, '$.userName')) = lower(@key)
                OR lower(json_extract(attrs, '$.displayName')) = lower(@key))
         ORDER BY integration, kind, source_id`,
      ),
      groupsOf: db.prepare<[string, string], string>(`SELECT group_id FROM group_members WHERE integration = ? AND user_id = ? ORDER BY group_id`).pluck(),
      membersOf: db.prepare<[string, string], string>(`SELECT user_id FROM group_members WHERE integration = ? AND group_id = ? ORDER BY user_id`).pluck(),
      escrowOf: db.prepare<[string, string], EscrowRow>(`SELECT * FROM escrow WHERE integration = ? AND source_id = ? ORDER BY op_key`),
      byUserName: db.prepare<[string, string | null, string | null], string>(
        `SELECT source_id FROM objects WHERE kind = 'user' AND lower(json_extract(attrs, '$.userName')) = lower(?) AND (? IS NULL OR integration = ?)`,
      ).pluck(),
      counts: db.prepare<[string], { kind: string; status: string; n: number }>(
        `SELECT kind, status, COUNT(*) AS n FROM objects WHERE integration = ? AND target_id IS NOT NULL GROUP BY kind, status`,
      ),
    };
  }

  findObjects(integration: string | undefined, key: string): StoredObject[] {
    return this.stmts.find.all({ integration: integration ?? null, key }).map((r) => ({
      integration: r.integration,
      kind: r.kind,
      sourceId: r.source_id,
      targetId: r.target_id,
      status: r.status,
      attrs: JSON.parse(r.attrs) as ScimAttrs,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      ...(r.kind === 'user' ? { groups: this.stmts.groupsOf.all(r.integration, r.source_id) } : { members: this.stmts.membersOf.all(r.integration, r.source_id) }),
      escrow: this.stmts.escrowOf.all(r.integration, r.source_id).map(escrowOf),
    }));
  }

  sourceIdsByUserName(integration: string | undefined, userName: string): string[] {
    return this.stmts.byUserName.all(userName, integration ?? null, integration ?? null);
  }

  objectCounts(integration: string): ObjectCounts {
    const out: ObjectCounts = {};
    for (const r of this.stmts.counts.all(integration)) (out[r.kind] ??= {})[r.status] = r.n;
    return out;
  }
}
