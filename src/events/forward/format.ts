/**
 * The exported shape of an event, and its line formats: NDJSON and CSV for
 * `scimsync events --format`, the same JSON object for the HTTP forward sink.
 * Field names are those of the event log (Directory Insights style), so a SIEM
 * rule written against one output works on the others.
 */
import type { Writable } from 'node:stream';
import { drained } from '../../io.js';
import type { EventRecord, EventResult, EventType } from '../types.js';

/** The columns of an exported event, in order. */
export const EVENT_FIELDS = ['id', 'time', 'integration', 'cycleId', 'type', 'result', 'sourceId', 'targetId', 'summary', 'detail'] as const;

export interface ExportedEvent {
  id: number;
  time: string;
  integration: string;
  cycleId: string | null;
  type: EventType;
  result: EventResult;
  sourceId: string | null;
  targetId: string | null;
  summary: string;
  detail: Record<string, unknown>;
}

/** A record as it is exported: every field present, in the documented order, nulls kept. */
export function exportedEvent(r: EventRecord): ExportedEvent {
  return {
    id: r.id,
    time: r.time,
    integration: r.integration,
    cycleId: r.cycleId ?? null,
    type: r.type,
    result: r.result,
    sourceId: r.sourceId ?? null,
    targetId: r.targetId ?? null,
    summary: r.summary,
    detail: r.detail ?? {},
  };
}

/** One JSON object and `\n`. JSON escapes CR and LF inside strings, so a value never splits a line. */
export function ndjsonLine(r: EventRecord): string {
  return `${JSON.stringify(exportedEvent(r))}\n`;
}

/** RFC 4180: a field with a comma, a quote, CR or LF is quoted, its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** RFC 4180 ends every record, the header included, with CRLF. */
export const CSV_HEADER = `${EVENT_FIELDS.join(',')}\r\n`;

/** One CSV record; `detail` is its JSON text, a null is an empty field. */
export function csvLine(r: EventRecord): string {
  const e = exportedEvent(r);
  const fields = [String(e.id), e.time, e.integration, e.cycleId ?? '', e.type, e.result, e.sourceId ?? '', e.targetId ?? '', e.summary, JSON.stringify(e.detail)];
  return `${fields.map(csvField).join(',')}\r\n`;
}

export type ExportFormat = 'ndjson' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv'];

export interface LineFormat {
  /** Written once before the first record ('' for NDJSON). */
  header: string;
  line(r: EventRecord): string;
}

export function lineFormat(format: ExportFormat): LineFormat {
  switch (format) {
    case 'ndjson':
      return { header: '', line: ndjsonLine };
    case 'csv':
      return { header: CSV_HEADER, line: csvLine };
    default: {
      const never: never = format;
      throw new Error(`unknown export format ${String(never)}`);
    }
  }
}

export interface WriteEventsOptions {
  format: ExportFormat;
  out: Writable;
  /** Bytes gathered before one write to `out`. @default 65536 */
  chunkBytes?: number;
}

export interface WriteEventsResult {
  /** Records handed to `out`. */
  written: number;
  /** The reader went away (a pipe into `head`, say): writing stopped there, which is no error. */
  closed: boolean;
}

/**
 * Streams records to `out` in `format`, honouring back-pressure: at most one
 * chunk waits in memory, however many rows the query yields. A closed pipe
 * (EPIPE) ends the export quietly; any other write error rejects.
 */
export async function writeEvents(rows: Iterable<EventRecord> | AsyncIterable<EventRecord>, options: WriteEventsOptions): Promise<WriteEventsResult> {
  const { out } = options;
  const format = lineFormat(options.format);
  const chunkBytes = options.chunkBytes ?? 65_536;
  let failure: Error | undefined;
  let closed = false;
  const onError = (err: Error) => {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') closed = true;
    else failure = err;
  };
  const onClose = () => {
    closed = true;
  };
  out.on('error', onError);
  out.on('close', onClose);
  let written = 0;
  let pending = 0;
  let chunk = format.header;
  const flush = async () => {
    if (chunk === '' || closed || failure) return;
    const ok = out.write(chunk);
    written += pending;
    pending = 0;
    chunk = '';
    if (!ok && !closed && !failure) await drained(out);
  };
  try {
    for await (const r of rows) {
      if (closed || failure) break;
      chunk += format.line(r);
      pending++;
      if (chunk.length >= chunkBytes) await flush();
    }
    await flush();
  } finally {
    out.off('close', onClose);
    // Left on: a late EPIPE after the export must not become an uncaught error.
    if (closed || failure) out.on('error', () => undefined);
    out.off('error', onError);
  }
  if (failure) throw failure;
  return { written, closed };
}
