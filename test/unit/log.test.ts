import { describe, expect, it } from 'vitest';
import { table } from '../../src/cli/format.js';
import { createLogger, escapeControl } from '../../src/log.js';

// Where winston's formats leave the finished line (triple-beam's MESSAGE).
const MESSAGE = Symbol.for('message');
const FORGED = 'ada@example.com\n12:00:00 info  [scimsync] [integration app] user_create_provision success: created root@example.com';

/** The line the pretty format writes for one log call, as the console transport receives it. */
function prettyLine(message: string, meta: Record<string, unknown> = {}): string {
  const logger = createLogger({ level: 'info', format: 'pretty', silent: true });
  const info = logger.format.transform({ level: 'info', message, ...meta, [Symbol.for('level')]: 'info' });
  if (!info || typeof info !== 'object') throw new Error('the format dropped the line');
  return String((info as unknown as Record<symbol, unknown>)[MESSAGE]);
}

describe('escapeControl', () => {
  it('writes line breaks, tabs and other control characters as escapes, on one line', () => {
    expect(escapeControl('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(escapeControl('\u0000\u001b[31mred\u007f')).toBe('\\u0000\\u001b[31mred\\u007f');
    expect(escapeControl('next\u0085line\u009b')).toBe('next\\u0085line\\u009b');
    expect(escapeControl('para\u2028graph\u2029')).toBe('para\\u2028graph\\u2029');
  });

  it('leaves readable text as it is, in any script', () => {
    const text = 'Zoë Ørsted 李雷 שלום مرحبا 🙂 C:\\Users\\ada cn=Doe\\, John';
    expect(escapeControl(text)).toBe(text);
  });
});

describe('the pretty log format', () => {
  it('keeps a value with a line break in one line that cannot pass for another log line', () => {
    const line = prettyLine(`user_create_provision success: created ${FORGED}`, { integration: 'app' });
    expect(line.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
    expect(line).toMatch(/^\d\d:\d\d:\d\d info {2}\[scimsync\] \[integration app\] user_create_provision success: created ada@example\.com\\n12:00:00 info /);
  });

  it('escapes a terminal escape sequence and the integration name too', () => {
    const line = prettyLine('renamed \u001b[2J\u001b[Hgroup', { integration: 'a\rb' });
    expect(line).toContain('[integration a\\rb] renamed \\u001b[2J\\u001b[Hgroup');
    expect([...line].filter((c) => c.charCodeAt(0) < 0x20)).toEqual([]);
  });
});

describe('text tables (scimsync events, status, reconcile)', () => {
  it('keep a cell with a line break on its row, aligned', () => {
    const lines = table(['SOURCE ID', 'USERNAME'], [['u1', `${FORGED}\r`], ['u\u001b2', 'alan@example.com']]);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.split(/\r\n|\r|\n/).length === 1)).toBe(true);
    expect(lines[1]).toBe(`u1${' '.repeat(9)}${FORGED.replace('\n', '\\n')}\\r`);
    expect(lines[2]).toBe('u\\u001b2   alan@example.com');
  });
});
