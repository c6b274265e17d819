/**
 * The client side of block-wise transfer (RFC 7959) over a "send one message, await its
 * response" primitive: Block1 uploads with size renegotiation (2.31 with a smaller SZX, or
 * 4.13 with Size1 / Block1), then Block2 continuation of large responses.
 */
import { randomBytes } from 'node:crypto';
import { blockSize, encodeBlock, encodeUint, getBlockOption, getOption, getUintOption, pathOptions, queryOptions, szxForSize } from './options.js';
import { CoapCode, CoapOptionNumber, codeClass, type CoapMessage, type CoapMethod, type CoapOption, type OutgoingRequest } from './types.js';

export const METHOD_CODES: Record<CoapMethod, number> = {
  GET: CoapCode.GET,
  POST: CoapCode.POST,
  PUT: CoapCode.PUT,
  DELETE: CoapCode.DELETE,
  FETCH: CoapCode.FETCH,
  PATCH: CoapCode.PATCH,
  iPATCH: CoapCode.iPATCH,
};

export interface ExchangeSpec {
  code: number;
  options: CoapOption[];
  payload: Buffer;
  confirmable: boolean;
  token: Buffer;
}

export interface TransferContext {
  /** Sends one request message and resolves with the matching response message. */
  exchange(spec: ExchangeSpec, noProgressTimeoutMs: number): Promise<CoapMessage>;
  /** A token for continuation requests (Block2), distinct from any pending one. */
  withFreshToken<T>(use: (token: Buffer) => Promise<T>): Promise<T>;
  preferredSzx: number;
  defaultTimeoutMs: number;
}

export interface TransferResult {
  /** The response that carried the headers (first Block2 block or the only message). */
  message: CoapMessage;
  /** The whole body, Block2 blocks reassembled. */
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

const TOKEN_BYTES = 8;
const TOKENS_PER_REFILL = 512;
let tokenPool = Buffer.alloc(0);
let tokenPoolOffset = 0;

/**
 * A random 8-byte token (RFC 7252 §5.3.1: unpredictable, so an off-path attacker cannot
 * forge responses). Taken from a pool the CSPRNG refills 512 tokens at a time: a Block1
 * push sends one request per block, and a call into the CSPRNG per request cost more than
 * the rest of the request's client-side work.
 */
export function randomToken(): Buffer {
  if (tokenPoolOffset + TOKEN_BYTES > tokenPool.length) {
    tokenPool = randomBytes(TOKEN_BYTES * TOKENS_PER_REFILL);
    tokenPoolOffset = 0;
  }
  const token = tokenPool.subarray(tokenPoolOffset, tokenPoolOffset + TOKEN_BYTES);
  tokenPoolOffset += TOKEN_BYTES;
  return token;
}

export function requestOptions(req: OutgoingRequest): CoapOption[] {
  const options: CoapOption[] = [];
  if (req.path) options.push(...pathOptions(req.path));
  if (req.query) options.push(...queryOptions(req.query));
  if (req.contentFormat !== undefined) options.push({ number: CoapOptionNumber.ContentFormat, value: encodeUint(req.contentFormat) });
  if (req.accept !== undefined) options.push({ number: CoapOptionNumber.Accept, value: encodeUint(req.accept) });
  if (req.options) options.push(...req.options);
  return options;
}

export async function performTransfer(ctx: TransferContext, req: OutgoingRequest, token: Buffer): Promise<TransferResult> {
  const code = METHOD_CODES[req.method];
  if (code === undefined) throw new TypeError(`unknown CoAP method ${String(req.method)}`);
  const baseOptions = requestOptions(req);
  const payload = req.payload ?? EMPTY;
  const confirmable = req.confirmable ?? true;
  const timeoutMs = req.timeoutMs ?? ctx.defaultTimeoutMs;
  let szx = clampSzx(req.blockSzx ?? ctx.preferredSzx);
  const earlyBlock2 = req.blockSzx !== undefined && (req.method === 'GET' || req.method === 'FETCH');

  let useBlocks = payload.length > blockSize(szx);
  let offset = 0;
  let response: CoapMessage;
  for (;;) {
    const options = [...baseOptions];
    let body = payload;
    let more = false;
    if (useBlocks) {
      const size = blockSize(szx);
      body = payload.subarray(offset, offset + size);
      more = offset + body.length < payload.length;
      options.push({ number: CoapOptionNumber.Block1, value: encodeBlock({ num: offset / size, more, szx }) });
      if (offset === 0) options.push({ number: CoapOptionNumber.Size1, value: encodeUint(payload.length) });
    }
    if (earlyBlock2) options.push({ number: CoapOptionNumber.Block2, value: encodeBlock({ num: 0, more: false, szx }) });
    response = await ctx.exchange({ code, options, payload: body, confirmable, token }, timeoutMs);

    if (response.code === CoapCode.RequestEntityTooLarge && payload.length > 0) {
      const smaller = smallerSzxFrom(response, useBlocks ? blockSize(szx) : payload.length);
      if (smaller !== undefined) {
        // offset is a multiple of the old (larger) size, hence of the new one: resume there.
        szx = smaller;
        useBlocks = true;
        continue;
      }
      break;
    }
    if (useBlocks && more) {
      if (response.code !== CoapCode.Continue) break;
      offset += body.length;
      req.onProgress?.(offset, payload.length);
      const echoed = safeBlock(response, CoapOptionNumber.Block1);
      if (echoed !== undefined && echoed.szx < szx) szx = echoed.szx;
      continue;
    }
    if (useBlocks && codeClass(response.code) === 2) req.onProgress?.(payload.length, payload.length);
    break;
  }
  return completeBlock2(ctx, req, response, timeoutMs);
}

/** Fetches blocks 1..n when `first` carries Block2 with more=1. */
export async function completeBlock2(
  ctx: TransferContext,
  req: OutgoingRequest,
  first: CoapMessage,
  timeoutMs = req.timeoutMs ?? ctx.defaultTimeoutMs,
): Promise<TransferResult> {
  let block = safeBlock(first, CoapOptionNumber.Block2);
  if (block === undefined || !block.more) return { message: first, payload: first.payload };
  const code = METHOD_CODES[req.method];
  // Continuations carry neither Observe (RFC 7959 §3.4) nor Block1/Block2 of the original.
  const baseOptions = requestOptions(req).filter(
    (o) => o.number !== CoapOptionNumber.Observe && o.number !== CoapOptionNumber.Block2 && o.number !== CoapOptionNumber.Block1,
  );
  const body = req.method === 'FETCH' ? (req.payload ?? EMPTY) : EMPTY;
  const etag = getOption(first, CoapOptionNumber.ETag);
  const parts: Buffer[] = [first.payload];
  let received = first.payload.length;
  return ctx.withFreshToken(async (token) => {
    while (block !== undefined && block.more) {
      const szx = block.szx;
      const num = received / blockSize(szx);
      if (!Number.isInteger(num)) throw new Error(`Block2 transfer misaligned at byte ${received}`);
      const options = [...baseOptions, { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) }];
      const next = await ctx.exchange({ code, options, payload: body, confirmable: req.confirmable ?? true, token }, timeoutMs);
      if (codeClass(next.code) !== 2) throw new Error(`Block2 transfer failed at block ${num}: code ${next.code >> 5}.${String(next.code & 31).padStart(2, '0')}`);
      const nextEtag = getOption(next, CoapOptionNumber.ETag);
      if (etag !== undefined && nextEtag !== undefined && !etag.equals(nextEtag)) {
        throw new Error('representation changed during the Block2 transfer (ETag differs)');
      }
      block = safeBlock(next, CoapOptionNumber.Block2);
      if (block === undefined) throw new Error(`Block2 transfer: block ${num} came without a Block2 option`);
      if (block.num * blockSize(block.szx) !== received) throw new Error(`Block2 transfer: asked block ${num}, got ${block.num}`);
      parts.push(next.payload);
      received += next.payload.length;
    }
    return { message: first, payload: Buffer.concat(parts, received) };
  });
}

/** The smaller block size a 4.13 asks for (Block1 SZX first, else Size1), if any. */
function smallerSzxFrom(response: CoapMessage, currentBytes: number): number | undefined {
  const block1 = safeBlock(response, CoapOptionNumber.Block1);
  if (block1 !== undefined && blockSize(block1.szx) < currentBytes) return block1.szx;
  const size1 = getUintOption(response, CoapOptionNumber.Size1);
  if (size1 !== undefined && size1 >= 16 && size1 < currentBytes) return szxForSize(size1);
  return undefined;
}

function safeBlock(msg: CoapMessage, number: number) {
  try {
    return getBlockOption(msg, number);
  } catch {
    return undefined;
  }
}

function clampSzx(szx: number): number {
  return Math.max(0, Math.min(6, Math.floor(szx)));
}
