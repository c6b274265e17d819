/**
 * The device side of a pull: GETs an image block by block (RFC 7959 Block2) over its own
 * socket, a stop-and-wait CON exchange per block with RFC 7252 retransmission, handing
 * each block to the caller before asking for the next, so the caller can persist it and a
 * restarted device can resume at the block it had reached, checking the ETag.
 */
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { blockSize, encodeBlock, getBlockOption, getOption, getUintOption, pathOptions, queryOptions } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, codeClass, formatCode, type CoapMessage, type CoapOption, type DatagramTransport, type RemoteAddress } from '../../../src/coap/types.js';

export interface PullTarget {
  remote: RemoteAddress;
  path: string[];
  query: string[];
  /** coaps://: fetched through a DTLS session with the device's own credentials. */
  secure: boolean;
}

/** A coap:// or coaps:// URI (default ports 5683 and 5684); undefined for anything else. */
export function parseCoapUri(uri: string): PullTarget | undefined {
  const match = /^(coaps?):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?(\/[^?#]*)?(?:\?([^#]*))?$/.exec(uri);
  if (!match) return undefined;
  const secure = match[1] === 'coaps';
  const host = match[2].replace(/^\[|\]$/g, '');
  const path = (match[4] ?? '').split('/').filter((s) => s !== '').map(decodeURIComponent);
  const query = match[5] ? match[5].split('&').filter((s) => s !== '').map(decodeURIComponent) : [];
  const port = match[3] ? Number(match[3]) : secure ? 5684 : 5683;
  return { remote: { address: host === 'localhost' ? '127.0.0.1' : host, port }, path, query, secure };
}

export class PullError extends Error {
  override readonly name = 'PullError';
  constructor(
    message: string,
    /**
     * 'lost' when the server stopped answering; 'refused' when it answered an error;
     * 'busy' when it answered 5.03 Service Unavailable (come back after `retryAfterMs`).
     */
    readonly kind: 'lost' | 'refused' | 'busy' | 'changed' | 'aborted' | 'simulated-loss',
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface BlockReceived {
  offset: number;
  payload: Buffer;
  /** From the first block's Size2, when the server sent it. */
  total: number | undefined;
  etag: Buffer | undefined;
  last: boolean;
}

export interface PullOptions {
  target: PullTarget;
  szx: number;
  /** Resume from this byte offset (a multiple of the block size). */
  offset: number;
  /** The ETag the earlier part came with; a different one means the image changed. */
  etag: Buffer | undefined;
  ackTimeoutMs: number;
  maxRetransmit: number;
  /** Return false to stop (e.g. the device was cancelled or lost power). */
  onBlock: (block: BlockReceived) => boolean | void;
  /**
   * Awaited before each block: a busy device holds its pull here and asks for the next
   * block (same offset, same ETag check) once it is idle again. Undefined = idle now.
   */
  untilIdle?: () => Promise<void> | undefined;
}

/** The block exchange waiting for its response, with its retransmission schedule. */
interface Waiting {
  messageId: number;
  /** The 4-byte token, as a number (TOKEN_LENGTH bytes, big-endian, on the wire). */
  token: number;
  bytes: Buffer;
  remote: RemoteAddress;
  num: number;
  /** Transmissions so far. */
  attempt: number;
  /** When to retransmit (Date.now ms). */
  dueAt: number;
  ackTimeoutMs: number;
  maxRetransmit: number;
}

/** One pull in progress: where it is, and how it ends. */
interface Run {
  options: PullOptions;
  szx: number;
  offset: number;
  etag: Buffer | undefined;
  total: number | undefined;
  /** The request's options: the same for every block but Block2, the last (by number), replaced per block. */
  requestOptions: CoapOption[];
  /**
   * The request serialized once per Block2 value length (index 1..3): every block's GET is
   * that buffer with its message ID, token and Block2 value patched in (the value ends the
   * datagram, as Block2 is the last option and a GET has no payload).
   */
  templates: Array<Buffer | undefined>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Stop-and-wait as a device's C client does it: each answer is checked, handed to the
 * caller and answered with the next request inside the datagram callback, with no promise
 * or deferred step per block (a simulated fleet is a thousand such clients on two cores).
 */
export class BlockPuller {
  private waiting: Waiting | undefined;
  private run: Run | undefined;
  private nextMessageId = Math.floor(Math.random() * 0x10000);
  // Tokens only need to tell this puller's own exchanges apart (RFC 7252 §5.3.1): a random
  // start and a counter, rather than a call into the CSPRNG for every block.
  private nextToken = Math.floor(Math.random() * 0x100000000) >>> 0;
  private aborted = false;
  /** Rejects on abort(), so a pull held while the device is busy ends too. */
  private readonly abortedSignal: Promise<never>;
  private rejectAborted!: (err: Error) => void;
  /**
   * One timer for the whole pull, not one per block: it is armed for the current block's
   * retransmission deadline and, when it fires early (the block it was armed for was answered
   * long ago), it re-arms for whatever is waiting now. Blocks arrive every few tens of
   * microseconds, a retransmission is due after seconds, so it rarely fires at all.
   */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(private readonly transport: DatagramTransport) {
    this.abortedSignal = new Promise<never>((_, reject) => (this.rejectAborted = reject));
    this.abortedSignal.catch(() => {});
    transport.onDatagram((datagram, remote) => this.onDatagram(datagram, remote));
  }

  abort(): void {
    this.aborted = true;
    this.rejectAborted(new PullError('aborted', 'aborted'));
    this.end(new PullError('aborted', 'aborted'));
  }

  pull(options: PullOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const run: Run = {
        options,
        szx: options.szx,
        offset: options.offset,
        etag: options.etag,
        total: undefined,
        requestOptions: [...pathOptions(options.target.path), ...queryOptions(options.target.query), { number: CoapOptionNumber.Block2, value: EMPTY }],
        templates: [],
        resolve,
        reject,
      };
      this.run = run;
      this.askNext(run);
    });
  }

  /** Ends the current pull: with an error, or (none given) complete. */
  private end(error?: Error): void {
    const run = this.run;
    this.run = undefined;
    this.waiting = undefined;
    this.stopTimer();
    if (run === undefined) return;
    if (error) run.reject(error);
    else run.resolve();
  }

  /** Asks for the block at run.offset, once the device is idle. */
  private askNext(run: Run): void {
    if (this.aborted) return this.end(new PullError('aborted', 'aborted'));
    const busy = run.options.untilIdle?.();
    if (busy) {
      Promise.race([busy, this.abortedSignal]).then(
        () => (this.aborted ? this.end(new PullError('aborted', 'aborted')) : this.request(run)),
        (err: unknown) => this.end(err as Error),
      );
      return;
    }
    this.request(run);
  }

  private request(run: Run): void {
    if (this.run !== run) return;
    const size = blockSize(run.szx);
    const num = Math.floor(run.offset / size);
    const token = (this.nextToken = (this.nextToken + 1) >>> 0);
    const messageId = (this.nextMessageId = (this.nextMessageId + 1) & 0xffff);
    const waiting: Waiting = {
      messageId,
      token,
      bytes: blockRequest(run, num, messageId, token),
      remote: run.options.target.remote,
      num,
      attempt: 0,
      dueAt: 0,
      ackTimeoutMs: run.options.ackTimeoutMs,
      maxRetransmit: run.options.maxRetransmit,
    };
    this.waiting = waiting;
    this.transmit(waiting);
  }

  /** The answer to the block asked for (any response the fast path below does not take). */
  private onResponse(run: Run, response: CoapMessage): void {
    if (response.code === CoapCode.ServiceUnavailable) {
      // RFC 7252 §5.9.3.4: Max-Age says when to come back (60 s when absent, §5.10.5).
      const maxAgeSec = getUintOption(response, CoapOptionNumber.MaxAge) ?? 60;
      throw new PullError(`server busy: ${response.payload.toString('utf8').slice(0, 100)}`, 'busy', maxAgeSec * 1000);
    }
    if (codeClass(response.code) !== 2) {
      throw new PullError(`server answered ${formatCode(response.code)}: ${response.payload.toString('utf8').slice(0, 100)}`, 'refused');
    }
    const block = getBlockOption(response, CoapOptionNumber.Block2);
    const responseEtag = getOption(response, CoapOptionNumber.ETag);
    if (run.etag !== undefined && responseEtag !== undefined && !run.etag.equals(responseEtag)) {
      throw new PullError('the image changed on the server (ETag differs)', 'changed');
    }
    run.etag ??= responseEtag;
    run.total ??= getUintOption(response, CoapOptionNumber.Size2);
    if (block === undefined) {
      // Small image, sent whole.
      run.options.onBlock({ offset: 0, payload: response.payload, total: response.payload.length, etag: run.etag, last: true });
      return this.end();
    }
    this.onBlock(run, block.num, block.more, block.szx, response.payload);
  }

  /** A block checked for its ETag: handed over, and the next one asked for. */
  private onBlock(run: Run, num: number, more: boolean, szx: number, payload: Buffer): void {
    if (num * blockSize(szx) !== run.offset) throw new PullError(`asked for byte ${run.offset}, got block ${num}`, 'refused');
    // The server may answer with smaller blocks than we asked: follow it.
    run.szx = szx;
    const keepGoing = run.options.onBlock({ offset: run.offset, payload, total: run.total, etag: run.etag, last: !more });
    if (!more) return this.end();
    if (keepGoing === false) throw new PullError('aborted', 'aborted');
    run.offset += payload.length;
    this.askNext(run);
  }

  /**
   * The usual answer, a piggybacked 2.05 carrying the waiting token, a Block2 and the ETag
   * we already hold (Size2 at most), read straight from the datagram: parsing it into a
   * message, looking each option up again and comparing token and ETag through Buffer calls
   * was a good part of a simulated device's JavaScript per block, a thousand pulls at once.
   * False (nothing consumed) for anything else, which then takes the general path: other
   * codes, another ETag, unexpected options, a Size2 still to be read, a malformed datagram.
   */
  private tryFastBlock(datagram: Buffer, waiting: Waiting, run: Run): boolean {
    const tkl = TOKEN_LENGTH;
    // Version 1, ACK, our token length; 2.05; our message ID and token.
    if (datagram.length < 5 + tkl || datagram[0] !== (0x60 | tkl) || datagram[1] !== CoapCode.Content) return false;
    if (((datagram[2] << 8) | datagram[3]) !== waiting.messageId) return false;
    if (((datagram[4] << 24) | (datagram[5] << 16) | (datagram[6] << 8) | datagram[7]) >>> 0 !== waiting.token) return false;
    const etag = run.etag;
    if (etag === undefined) return false;
    let pos = 4 + tkl;
    let number = 0;
    let block = -1;
    let etagSeen = false;
    const end = datagram.length;
    while (pos < end && datagram[pos] !== 0xff) {
      const head = datagram[pos++];
      let delta = head >> 4;
      let length = head & 0x0f;
      if (delta === 13) delta = 13 + datagram[pos++];
      else if (delta === 14) return false;
      if (length === 13) length = 13 + datagram[pos++];
      else if (length === 14) return false;
      // (Written so that an extended byte read past the end, NaN, fails it too.)
      if (delta === 15 || length === 15 || !(pos + length <= end)) return false;
      number += delta;
      if (number === CoapOptionNumber.ETag) {
        if (length !== etag.length) return false;
        for (let i = 0; i < length; i++) if (datagram[pos + i] !== etag[i]) return false;
        etagSeen = true;
      } else if (number === CoapOptionNumber.Block2) {
        if (length > 3) return false;
        block = 0;
        for (let i = 0; i < length; i++) block = block * 256 + datagram[pos + i];
      } else if (number === CoapOptionNumber.Size2) {
        // Read by the general path while the total is still unknown.
        if (run.total === undefined) return false;
      } else if (number !== CoapOptionNumber.ContentFormat) {
        return false;
      }
      pos += length;
    }
    // A block, its ETag, and a payload behind the marker.
    if (block < 0 || !etagSeen || pos + 1 >= end || (block & 0x07) === 7) return false;
    this.waiting = undefined;
    this.onBlock(run, Math.floor(block / 16), (block & 0x08) !== 0, block & 0x07, datagram.subarray(pos + 1));
    return true;
  }

  /** Sends (or re-sends) the waiting request and schedules its next retransmission (RFC 7252 §4.2). */
  private transmit(waiting: Waiting): void {
    const wait = waiting.ackTimeoutMs * 2 ** waiting.attempt * (1 + Math.random() * 0.5);
    waiting.attempt++;
    waiting.dueAt = Date.now() + wait;
    try {
      this.transport.send(waiting.bytes, waiting.remote);
    } catch {
      // A closed socket: the retransmission timeout reports the loss.
    }
    if (this.timer === undefined || this.timerAt > waiting.dueAt) this.armTimer(waiting.dueAt);
  }

  private armTimer(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (Date.now() < waiting.dueAt) {
      this.armTimer(waiting.dueAt);
      return;
    }
    if (waiting.attempt > waiting.maxRetransmit) {
      this.end(new PullError(`no answer for block ${waiting.num} after ${waiting.attempt} transmissions`, 'lost'));
      return;
    }
    this.transmit(waiting);
  }

  private onDatagram(datagram: Buffer, remote: RemoteAddress): void {
    const waitingNow = this.waiting;
    const runNow = this.run;
    if (waitingNow !== undefined && runNow !== undefined) {
      try {
        if (this.tryFastBlock(datagram, waitingNow, runNow)) return;
      } catch (err) {
        this.end(err as Error);
        return;
      }
    }
    let msg: CoapMessage;
    try {
      msg = parseMessage(datagram);
    } catch {
      return;
    }
    const waiting = this.waiting;
    if (msg.type === 'CON') {
      // A separate response: acknowledge it whatever it is (duplicates included).
      this.transport.send(serializeMessage({ type: 'ACK', code: 0, messageId: msg.messageId, token: EMPTY, options: [], payload: EMPTY }), remote);
    }
    if (!waiting || msg.code === CoapCode.Empty) return;
    if (msg.token.length !== TOKEN_LENGTH || msg.token.readUInt32BE(0) !== waiting.token) return;
    if (msg.type === 'ACK' && msg.messageId !== waiting.messageId) return;
    // The timer stays armed: it re-arms itself for the next block when it fires.
    this.waiting = undefined;
    const run = this.run;
    if (run === undefined) return;
    try {
      this.onResponse(run, msg);
    } catch (err) {
      this.end(err as Error);
    }
  }
}

/**
 * The GET for block `num`: the run's template with its message ID, token and Block2 value
 * patched in place (serializing a message per block, a thousand pulls at once, was a good
 * part of a simulated device's work per block; so was a fresh copy of it). One buffer per
 * template serves every block: a pull has one request in flight, and the next is written
 * only once the previous one was answered, so it has left the socket; a retransmission
 * sends the same bytes again.
 */
function blockRequest(run: Run, num: number, messageId: number, token: number): Buffer {
  const value = num * 16 + run.szx;
  const length = value <= 0xff ? 1 : value <= 0xffff ? 2 : 3;
  let bytes = run.templates[length];
  if (bytes === undefined) {
    const tokenBytes = Buffer.allocUnsafe(TOKEN_LENGTH);
    tokenBytes.writeUInt32BE(token, 0);
    const options = run.requestOptions;
    options[options.length - 1] = { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: run.szx }) };
    // A zero value encodes as no bytes: build that one (block 0 at szx 0) without a template.
    if (options[options.length - 1].value.length !== length) return serializeMessage({ type: 'CON', code: CoapCode.GET, messageId, token: tokenBytes, options, payload: EMPTY });
    bytes = serializeMessage({ type: 'CON', code: CoapCode.GET, messageId: 0, token: tokenBytes, options, payload: EMPTY });
    run.templates[length] = bytes;
  }
  bytes[2] = messageId >> 8;
  bytes[3] = messageId & 0xff;
  bytes.writeUInt32BE(token, 4);
  const end = bytes.length;
  if (length === 3) bytes[end - 3] = value >> 16;
  if (length >= 2) bytes[end - 2] = (value >> 8) & 0xff;
  bytes[end - 1] = value & 0xff;
  return bytes;
}

/** Our tokens are a 32-bit counter (see BlockPuller.nextToken). */
const TOKEN_LENGTH = 4;

const EMPTY = Buffer.alloc(0);
