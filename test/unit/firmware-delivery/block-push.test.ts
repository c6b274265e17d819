import { describe, expect, it } from 'vitest';
import { pushInBlocks, type BlockRequester } from '../../../src/firmware/delivery/block-push.js';
import { getBlockOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, CoapTimeoutError, type IncomingResponse } from '../../../src/coap/types.js';
import { DeviceTimeoutError } from '../../../src/lwm2m/server/errors.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';

const registration = { endpoint: 'dev', rootPath: '/', address: { address: '192.0.2.1', port: 5683 } } as unknown as Registration;

/** A device whose answers to the listed exchanges (1-based, counting every request) are all lost. */
function device(lostExchanges: number[]): { requester: BlockRequester; received: Buffer[]; blockNums: number[] } {
  const received: Buffer[] = [];
  const blockNums: number[] = [];
  let exchange = 0;
  const requester: BlockRequester = {
    async request(_remote, req) {
      exchange++;
      const b1 = req.options!.find((o) => o.number === CoapOptionNumber.Block1)!;
      const block = getBlockOption({ options: [b1] } as never, CoapOptionNumber.Block1)!;
      blockNums.push(block.num);
      if (lostExchanges.includes(exchange)) throw new CoapTimeoutError('no response');
      if (received.length === block.num) received.push(req.payload!);
      const code = block.more ? CoapCode.Continue : CoapCode.Changed;
      return { code, payload: Buffer.alloc(0), message: { options: [b1] } } as unknown as IncomingResponse;
    },
  };
  return { requester, received, blockNums };
}

const options = (requester: BlockRequester, bytes: Buffer) => ({
  requester,
  registration: () => registration,
  endpoint: 'dev',
  bytes,
  startOffset: 0,
  szx: 0,
  timeoutMs: 1000,
  shouldStop: () => false,
  onAcknowledged: () => {},
});

describe('pushInBlocks', () => {
  it('sends a block again when one exchange for it times out, and completes with the exact bytes', async () => {
    const bytes = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
    const d = device([3, 4]);
    expect(await pushInBlocks(options(d.requester, bytes))).toEqual({ kind: 'complete' });
    expect(d.blockNums).toEqual([0, 1, 2, 2, 2, 3]);
    expect(Buffer.concat(d.received)).toEqual(bytes);
  });

  it('counts the device as silent after four timed-out exchanges for the same block', async () => {
    const d = device([2, 3, 4, 5]);
    await expect(pushInBlocks(options(d.requester, Buffer.alloc(64)))).rejects.toBeInstanceOf(DeviceTimeoutError);
    expect(d.blockNums).toEqual([0, 1, 1, 1, 1]);
  });
});
