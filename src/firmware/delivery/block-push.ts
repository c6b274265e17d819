/**
 * A Block1 push of the package (/5/0/0) that can stop between two blocks and later go on
 * from the acknowledged offset with the next block number. The generic Block1 client
 * (src/coap/client-transfer.ts) always starts at block 0 and cannot be stopped, so a
 * paused push drives the blocks itself: each block is one request carrying an explicit
 * Block1 option, and the device's reassembly (keyed by peer and path, RFC 7959 §2.5) joins
 * them. A device that lost the partial body (expired, rebooted) answers 4.08 and the push
 * starts over at block 0, once.
 */
import { blockSize, encodeBlock, encodeUint, getBlockOption, getUintOption, szxForSize } from '../../coap/options.js';
import { CoapCode, CoapOptionNumber, CoapResetError, CoapTimeoutError, codeClass, type CoapMessage, type CoapOption, type OutgoingRequest, type RemoteAddress, type IncomingResponse } from '../../coap/types.js';
import { ContentFormat } from '../../lwm2m/formats/types.js';
import { DeviceErrorResponse, DeviceResetError, DeviceTimeoutError, UnknownDeviceError } from '../../lwm2m/server/errors.js';
import type { Registration } from '../../lwm2m/server/registration.js';

/** Sends one CoAP request to a device (the CoAP endpoint's request()). */
export interface BlockRequester {
  request(remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse>;
}

export interface BlockPushOptions {
  requester: BlockRequester;
  /** The device's current registration (read before every block: it may have moved). */
  registration: () => Registration | undefined;
  endpoint: string;
  bytes: Buffer;
  /** Where to go on from: a multiple of the block size (0 = from the start). */
  startOffset: number;
  szx: number;
  timeoutMs: number;
  /** Checked before each block: true stops the push with the offset acknowledged so far. */
  shouldStop: () => boolean;
  /** Told after each acknowledged block (synchronously, before the next one is sent). */
  onAcknowledged: (offset: number, total: number) => void;
}

export type BlockPushResult = { kind: 'complete' } | { kind: 'stopped'; offset: number };

const PATH = '/5/0/0';

export async function pushInBlocks(options: BlockPushOptions): Promise<BlockPushResult> {
  const { bytes, endpoint } = options;
  let szx = Math.max(0, Math.min(6, options.szx));
  let offset = options.startOffset % blockSize(szx) === 0 && options.startOffset < bytes.length ? options.startOffset : 0;
  let restarted = offset === 0;
  let exchanges = 0;
  let rootPath: string | undefined;
  let path: string[] = [];
  for (;;) {
    if (options.shouldStop()) return { kind: 'stopped', offset };
    const registration = options.registration();
    if (!registration) throw new UnknownDeviceError(endpoint);
    if (registration.rootPath !== rootPath) {
      rootPath = registration.rootPath;
      path = [...(rootPath === '/' ? [] : rootPath.split('/').filter((segment) => segment !== '')), '5', '0', '0'];
    }
    const size = blockSize(szx);
    const body = bytes.subarray(offset, offset + size);
    const more = offset + body.length < bytes.length;
    const extra: CoapOption[] = [{ number: CoapOptionNumber.Block1, value: encodeBlock({ num: offset / size, more, szx }) }];
    if (offset === 0) extra.push({ number: CoapOptionNumber.Size1, value: encodeUint(bytes.length) });
    let response: IncomingResponse;
    try {
      response = await options.requester.request(registration.address, {
        method: 'PUT',
        path,
        contentFormat: ContentFormat.OPAQUE,
        payload: body,
        options: extra,
        timeoutMs: options.timeoutMs,
      });
    } catch (err) {
      // Same errors as the device client's, so the driver tells silence from refusal.
      if (err instanceof CoapResetError) throw new DeviceResetError(endpoint, PATH);
      if (!(err instanceof CoapTimeoutError)) throw err;
      // On a lossy link one block's CON retransmissions can all be lost (at 10 % loss each
      // way about one block in 4,000) while the transfer as a whole is progressing: such a
      // block is sent again as a new exchange, a few times, before the device counts as silent.
      if (++exchanges >= BLOCK_EXCHANGES || options.shouldStop()) throw new DeviceTimeoutError(endpoint, PATH, options.timeoutMs);
      continue;
    }
    exchanges = 0;
    const code = response.code as number;
    if (code === CoapCode.RequestEntityTooLarge) {
      const smaller = smallerSzx(response.message, size);
      if (smaller === undefined) throw refusal(endpoint, response);
      szx = smaller;
      continue;
    }
    if (code === CoapCode.RequestEntityIncomplete && !restarted) {
      // The device no longer holds the first part (its reassembly expired): start over.
      restarted = true;
      offset = 0;
      continue;
    }
    if (more) {
      if (code !== CoapCode.Continue) throw refusal(endpoint, response);
      offset += body.length;
      options.onAcknowledged(offset, bytes.length);
      const echoed = safeBlock(response.message);
      if (echoed !== undefined && echoed.szx < szx) szx = echoed.szx;
      continue;
    }
    if (codeClass(code) !== 2) throw refusal(endpoint, response);
    options.onAcknowledged(bytes.length, bytes.length);
    return { kind: 'complete' };
  }
}

/** Exchanges one block may take (each with its own CON retransmissions) before the push gives up. */
const BLOCK_EXCHANGES = 4;

function refusal(endpoint: string, response: IncomingResponse): DeviceErrorResponse {
  return new DeviceErrorResponse(endpoint, PATH, response.code, response.payload.toString('utf8'));
}

function smallerSzx(message: CoapMessage, currentBytes: number): number | undefined {
  const block1 = safeBlock(message);
  if (block1 !== undefined && blockSize(block1.szx) < currentBytes) return block1.szx;
  const size1 = getUintOption(message, CoapOptionNumber.Size1);
  if (size1 !== undefined && size1 >= 16 && size1 < currentBytes) return szxForSize(size1);
  return undefined;
}

function safeBlock(message: CoapMessage) {
  try {
    return getBlockOption(message, CoapOptionNumber.Block1);
  } catch {
    return undefined;
  }
}
