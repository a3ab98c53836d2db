import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { SourceError } from '../src/errors.js';
import type { SnapshotResult } from '../src/model.js';
import type { SourceConnector } from './source.js';
import { MalformedRow, validateRows, type RawRows } from './validate.js';

export interface FileSourceOptions {
  integration: string;
  /** A JSON directory, or a users CSV. */
  path: string;
  /** With a users CSV: the groups CSV (`id,displayName,members`, members split by `;`). */
  groupsPath?: string;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${line}:${col}`;
}

async function readText(integration: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SourceError(integration, `${path}: cannot read the file (${code})`);
  }
}

function parseJson(integration: string, path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(message);
    const offset = m ? Number(m[1]) : text.length;
    throw new SourceError(integration, `${path}:${lineCol(text, offset)}: malformed JSON (${message.split('\n')[0]})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function csvRows(integration: string, path: string, text: string): RawRows {
  let rows: string[][];
  try {
    rows = parseCsv(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    const line = typeof e.lines === 'number' ? `:${e.lines}` : '';
    throw new SourceError(integration, `${path}${line}: malformed CSV (${(e.message ?? String(err)).split('\n')[0]})`);
  }
  const [header, ...body] = rows;
  const name = basename(path);
  const at = (i: number) => `${name}:${i + 2}`;
  if (!header) return { records: [], at };
  const records = body.map((cells) => {
    if (cells.length !== header.length) return new MalformedRow(`expected ${header.length} columns, got ${cells.length}`);
    const record: Record<string, unknown> = {};
    header.forEach((h, j) => (record[h] = cells[j]));
    return record;
  });
  return { records, at };
}

/** Reads a directory from a JSON file or a CSV pair (DESIGN.md, "The file source format"). */
export function fileSource(options: FileSourceOptions): SourceConnector {
  const { integration, path } = options;
  return {
    kind: 'file',
    async snapshot(): Promise<SnapshotResult> {
      let users: RawRows;
      let groups: RawRows = { records: [], at: String };
      if (extname(path).toLowerCase() === '.csv') {
        users = csvRows(integration, path, await readText(integration, path));
        if (options.groupsPath) {
          groups = csvRows(integration, options.groupsPath, await readText(integration, options.groupsPath));
        }
      } else {
        const doc = parseJson(integration, path, await readText(integration, path));
        if (!isRecord(doc) || !Array.isArray(doc.users)) {
          throw new SourceError(integration, `${path}: expected an object with a "users" array`);
        }
        const name = basename(path);
        users = { records: doc.users, at: (i) => `${name} users[${i}]` };
        const rawGroups = doc.groups === undefined ? [] : doc.groups;
        if (!Array.isArray(rawGroups)) throw new SourceError(integration, `${path}: "groups" must be an array`);
        groups = { records: rawGroups, at: (i) => `${name} groups[${i}]` };
      }
      const result = validateRows(users, groups);
      return { snapshot: { users: result.users, groups: result.groups }, problems: result.problems };
    },
  };
}
