import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Info as CsvInfo } from 'csv-parse';
import { z } from 'zod';
import { SourceError } from '../src/errors.js';
import { escapeControl } from '../src/log.js';
import type { SnapshotResult } from '../src/core/records.js';
import { defineSource, type SourceConnector } from './source.js';
import { MalformedRow, validateRows, type RawRows } from './validate.js';

/** `source: { type: file, path, groupsPath }`. */
export const fileSourcePlugin = defineSource({
  options: z.strictObject({
    type: z.literal('file'),
    path: z.string().min(1),
    groupsPath: z.string().min(1).optional(),
  }),
  create: (o, integration) => fileSource({ integration, path: o.path, ...(o.groupsPath ? { groupsPath: o.groupsPath } : {}) }),
  resolvePaths: (o, resolve) => ({ ...o, path: resolve(o.path), ...(o.groupsPath ? { groupsPath: resolve(o.groupsPath) } : {}) }),
});

export interface FileSourceOptions {
  integration: string;
  /** A JSON directory, or a users CSV. */
  path: string;
  /** With a users CSV: the groups CSV (`id,displayName,members`, members split by `;`). */
  groupsPath?: string;
}

/** Bytes that are not UTF-8: the longest start of a sequence that cannot be completed. */
interface BadBytes {
  offset: number;
  length: number;
}

/** Where a byte is, for a person with an editor: lines from 1, columns in characters from 1. */
interface BytePosition {
  line: number;
  column: number;
}

/** The bad sequences of a text that is not UTF-8, as a WHATWG decoder finds them (overlongs and surrogates included). */
function badSequences(bytes: Uint8Array): BadBytes[] {
  const bad: BadBytes[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    }
    let j = 1;
    for (; j <= need; j++) {
      const c = bytes[i + j];
      if (c === undefined || c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xbf;
    }
    if (need === 0 || j <= need) {
      bad.push({ offset: i, length: j });
      i += j;
    } else i += need + 1;
  }
  return bad;
}

/** Positions of bytes in a file, for messages; the line index is built on the first call only. */
function positionsIn(bytes: Buffer): (offset: number) => BytePosition {
  let newlines: number[] | undefined;
  return (offset) => {
    if (newlines === undefined) {
      newlines = [];
      for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, nl + 1)) newlines.push(nl);
    }
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    const lineStart = lo === 0 ? 0 : newlines[lo - 1]! + 1;
    // The line up to the first bad byte of its row is UTF-8; a BOM is not a column.
    const column = [...new TextDecoder().decode(bytes.subarray(lineStart, offset))].length + 1;
    return { line: lo + 1, column };
  };
}

const SAVE_AS_UTF8 = 'save the file as UTF-8';

function describeBad(bytes: Buffer, bad: BadBytes, positionOf: (offset: number) => BytePosition): string {
  const { line, column } = positionOf(bad.offset);
  const hex = [...bytes.subarray(bad.offset, bad.offset + bad.length)].map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
  return `invalid UTF-8 at byte ${bad.offset} (line ${line}, column ${column}): ${hex}`;
}

function isUtf16(bytes: Buffer): boolean {
  return (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
}

/** A file that is not UTF-8 is not read at all: a replacement character would be provisioned as the user's name. */
function notUtf8(integration: string, path: string, bytes: Buffer): SourceError {
  if (isUtf16(bytes)) return new SourceError(integration, `${path}: the file is UTF-16; save it as UTF-8`);
  return new SourceError(integration, `${path}: ${describeBad(bytes, badSequences(bytes)[0]!, positionsIn(bytes))}; ${SAVE_AS_UTF8}`);
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${line}:${col}`;
}

async function readBytes(integration: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SourceError(integration, `${path}: cannot read the file (${code})`);
  }
}

/** A JSON document is read whole or not at all. */
function readJson(integration: string, path: string, bytes: Buffer): unknown {
  let text: string;
  try {
    // Strict: a bad byte fails the source instead of becoming U+FFFD. A BOM is dropped.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw notUtf8(integration, path, bytes);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(message);
    const offset = m ? Number(m[1]) : text.length;
    throw new SourceError(integration, `${path}:${lineCol(text, offset)}: malformed JSON (${escapeControl(message.split('\n')[0]!)})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Stands in for each bad byte, one for one, so that the parser's byte counts stay those of the file.
const SUBSTITUTE = 0x1a;

/**
 * The rows of a CSV file. A row with bytes that are not UTF-8 is reported with
 * its id (its user is then held as it is); the whole file fails when the bad
 * bytes are in the header or in the row's id, as that user could not be held.
 */
function csvRows(integration: string, path: string, bytes: Buffer): RawRows {
  const bad = isUtf8(bytes) ? [] : badSequences(bytes);
  if (bad.length > 0 && isUtf16(bytes)) throw notUtf8(integration, path, bytes);
  let input = bytes;
  if (bad.length > 0) {
    input = Buffer.from(bytes);
    for (const b of bad) input.fill(SUBSTITUTE, b.offset, b.offset + b.length);
  }
  let parsed: { record: string[]; info: CsvInfo }[];
  try {
    parsed = parseCsv(input, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true, info: true }) as typeof parsed;
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    const line = typeof e.lines === 'number' ? `:${e.lines}` : '';
    throw new SourceError(integration, `${path}${line}: malformed CSV (${escapeControl((e.message ?? String(err)).split('\n')[0]!)})`);
  }
  // Record r spans the bytes from ends[r - 1] (or 0) to ends[r].
  const ends = parsed.map((p) => p.info.bytes);
  const positionOf = positionsIn(bytes);
  const firstBad = new Map<number, BadBytes>();
  let r = 0;
  for (const b of bad) {
    while (r < ends.length && ends[r]! <= b.offset) r++;
    if (r === 0 || r === ends.length) {
      throw new SourceError(integration, `${path}: ${describeBad(bytes, b, positionOf)}${r === 0 ? ', in the header' : ''}; ${SAVE_AS_UTF8}`);
    }
    if (!firstBad.has(r)) firstBad.set(r, b);
  }
  const name = basename(path);
  const at = (i: number) => {
    // Row i is record i + 1; it starts after the blank lines that precede it.
    let start = ends[i] ?? 0;
    while (start < bytes.length && [0x0a, 0x0d, 0x20, 0x09].includes(bytes[start]!)) start++;
    return `${name}:${positionOf(start).line}`;
  };
  const [header, ...body] = parsed.map((p) => p.record);
  // A file without even a header row is a failed export, not a directory of nobody.
  if (!header) throw new SourceError(integration, `${path}: the file is empty (no header row)`);
  const idColumn = header.indexOf('id');
  const records = body.map((cells, i) => {
    const id = idColumn >= 0 && cells[idColumn] ? cells[idColumn] : undefined;
    const b = firstBad.get(i + 1);
    if (b) {
      if (id?.includes(String.fromCharCode(SUBSTITUTE))) {
        throw new SourceError(integration, `${path}: ${describeBad(bytes, b, positionOf)}, and the id of that row is unreadable, so its user cannot be held as it is; ${SAVE_AS_UTF8}`);
      }
      return new MalformedRow(`${describeBad(bytes, b, positionOf)}; ${SAVE_AS_UTF8}`, id !== undefined ? { sourceId: id } : {});
    }
    if (cells.length !== header.length) {
      return new MalformedRow(`expected ${header.length} columns, got ${cells.length}`, id !== undefined ? { sourceId: id } : {});
    }
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
        users = csvRows(integration, path, await readBytes(integration, path));
        if (options.groupsPath) {
          const bytes = await readBytes(integration, options.groupsPath);
          // A group row left out would be deleted in the target: bad bytes there fail the source.
          if (!isUtf8(bytes)) throw notUtf8(integration, options.groupsPath, bytes);
          groups = csvRows(integration, options.groupsPath, bytes);
        }
      } else {
        const doc = readJson(integration, path, await readBytes(integration, path));
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
