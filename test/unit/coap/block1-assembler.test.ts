import { describe, expect, it } from 'vitest';
import { Block1Assembler } from '../../../src/coap/block1-assembler.js';
import { ManualClock } from '../../../src/util/clock.js';

const block = (num: number, more: boolean) => ({ num, more, szx: 0 }); // 16-byte blocks
const bytes = (fill: number, length = 16) => Buffer.alloc(length, fill);

describe('Block1Assembler', () => {
  it('acknowledges a repeat of the block it just took (our answer was lost) and keeps the upload', () => {
    const assembler = new Block1Assembler(new ManualClock(), 60_000, 1024, 6);
    expect(assembler.accept('k', block(0, true), bytes(1)).kind).toBe('continue');
    expect(assembler.accept('k', block(1, true), bytes(2)).kind).toBe('continue');
    // Block 1 again, as a new exchange: acknowledged, not appended.
    expect(assembler.accept('k', block(1, true), bytes(2))).toEqual({ kind: 'continue', szx: 0 });
    const done = assembler.accept('k', block(2, false), bytes(3, 5));
    expect(done).toEqual({ kind: 'complete', body: Buffer.concat([bytes(1), bytes(2), bytes(3, 5)]), szx: 0 });
  });

  it('still refuses a gap or an older block with 4.08 (incomplete)', () => {
    const assembler = new Block1Assembler(new ManualClock(), 60_000, 1024, 6);
    assembler.accept('k', block(0, true), bytes(1));
    assembler.accept('k', block(1, true), bytes(2));
    expect(assembler.accept('k', block(3, true), bytes(4)).kind).toBe('incomplete');
    assembler.accept('j', block(0, true), bytes(1));
    assembler.accept('j', block(1, true), bytes(2));
    assembler.accept('j', block(2, true), bytes(3));
    expect(assembler.accept('j', block(1, true), bytes(2)).kind).toBe('incomplete');
  });
});
