import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CSV_HEADER, csvLine, ndjsonLine, writeEvents } from '../../src/events/forward/format.js';
import type { EventRecord } from '../../src/events/types.js';
import { tempDir } from './support.js';

const record = (id: number, over: Partial<EventRecord> = {}): EventRecord => ({
  id,
  time: '2025-03-01T10:00:00.000Z',
  integration: 'gong',
  cycleId: 'c-1',
  type: 'user_create_provision',
  result: 'success',
  sourceId: `u${id}`,
  targetId: null,
  summary: `user u${id} created`,
  detail: { status: 201 },
  ...over,
});

function* records(n: number, over: Partial<EventRecord> = {}): Generator<EventRecord> {
  for (let i = 1; i <= n; i++) yield record(i, over);
}

const awkward = record(7, { summary: 'Ada, "the first"\r\nprogrammer\u2028', sourceId: '=cmd|x', detail: { note: 'a,b\n"c"' } });

describe('event export formats', () => {
  it('writes NDJSON: one parseable object per line with the event log field names, whatever the summary holds', () => {
    const line = ndjsonLine(awkward);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ ...awkward, targetId: null });
    expect(Object.keys(JSON.parse(line) as object)).toEqual(['id', 'time', 'integration', 'cycleId', 'type', 'result', 'sourceId', 'targetId', 'summary', 'detail']);
  });

  it('writes RFC 4180 CSV: a header row, quoted fields where needed, that a CSV reader gives back as written', () => {
    const text = CSV_HEADER + csvLine(record(1)) + csvLine(awkward);
    expect(text.startsWith('id,time,integration,cycleId,type,result,sourceId,targetId,summary,detail\r\n')).toBe(true);
    expect(csvLine(record(1))).toBe('1,2025-03-01T10:00:00.000Z,gong,c-1,user_create_provision,success,u1,,user u1 created,"{""status"":201}"\r\n');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2);
    expect(rows[1]).toEqual({
      id: '7',
      time: awkward.time,
      integration: 'gong',
      cycleId: 'c-1',
      type: 'user_create_provision',
      result: 'success',
      sourceId: '=cmd|x',
      targetId: '',
      summary: awkward.summary,
      detail: JSON.stringify(awkward.detail),
    });
  });

  it('streams any number of rows to a file', async () => {
    const file = join(tempDir(), 'events.csv');
    const out = createWriteStream(file);
    const result = await writeEvents(records(20_000), { format: 'csv', out });
    await new Promise((r) => out.end(r));
    expect(result).toEqual({ written: 20_000, closed: false });
    const lines = readFileSync(file, 'utf8').split('\r\n');
    expect(lines[0]).toBe(CSV_HEADER.trimEnd());
    expect(lines).toHaveLength(20_002);
    expect(lines[20_000]).toMatch(/^20000,/);
  });

  it('reads the rows only as fast as the reader takes them', async () => {
    let pulled = 0;
    function* counted(): Generator<EventRecord> {
      for (let i = 1; i <= 5000; i++) {
        pulled++;
        yield record(i);
      }
    }
    const seen: number[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, done) {
        seen.push(pulled);
        setTimeout(done, 2);
      },
    });
    const result = await writeEvents(counted(), { format: 'ndjson', out: slow, chunkBytes: 4096 });
    expect(result.written).toBe(5000);
    // Each write finds at most about one chunk's rows pulled ahead of it (a row is about 190 bytes).
    for (let i = 1; i < seen.length; i++) expect(seen[i]! - seen[i - 1]!).toBeLessThan(40);
  });

  it('stops quietly when the pipe it writes to is closed by its reader', async () => {
    const head = spawn('head', ['-n', '3'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    head.stdout.on('data', (c: Buffer) => (output += c.toString()));
    const result = await writeEvents(records(500_000), { format: 'ndjson', out: head.stdin });
    await new Promise((r) => head.on('close', r));
    expect(result.closed).toBe(true);
    expect(result.written).toBeLessThan(500_000);
    expect(output.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([1, 2, 3]);
  });
});
