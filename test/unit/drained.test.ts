import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { drained } from '../../src/io.js';

/** A stream that never drains by itself: nothing is written through until `release()`. */
function stuckStream(options: { emitClose: boolean }) {
  let release: () => void = () => undefined;
  const out = new Writable({
    highWaterMark: 4,
    autoDestroy: false,
    emitClose: options.emitClose,
    write(_chunk, _encoding, callback) {
      release = () => callback();
    },
  });
  out.on('error', () => undefined); // the writer's own listener, as cli/events.ts and forward/format.ts keep one
  return { out, release: () => release() };
}

const settled = (p: Promise<void>) => Promise.race([p.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 2000))]);

describe('drained: waiting for back-pressure on a stream', () => {
  it('resolves once the stream drains, with no listener left behind', async () => {
    const { out, release } = stuckStream({ emitClose: true });
    expect(out.write('a full chunk')).toBe(false);
    const waiting = drained(out);
    release();
    expect(await settled(waiting)).toBe('settled');
    expect([out.listenerCount('drain'), out.listenerCount('close'), out.listenerCount('error')]).toEqual([0, 0, 1]);
  });

  it('resolves when the stream fails, even one that never closes (a listing does not hang on a broken stdout)', async () => {
    const { out } = stuckStream({ emitClose: false });
    expect(out.write('a full chunk')).toBe(false);
    const waiting = drained(out);
    out.emit('error', new Error('EIO'));
    expect(await settled(waiting)).toBe('settled');
  });

  it('resolves when the stream closes (the reader went away)', async () => {
    const { out } = stuckStream({ emitClose: true });
    expect(out.write('a full chunk')).toBe(false);
    const waiting = drained(out);
    out.destroy();
    expect(await settled(waiting)).toBe('settled');
  });
});
