/**
 * The device side of a pull: GETs an image block by block (RFC 7959 Block2) over its own
 * socket, a stop-and-wait CON exchange per block with RFC 7252 retransmission, handing
 * each block to the caller before asking for the next, so the caller can persist it and a
 * restarted device can resume at the block it had reached, checking the ETag.
 */
import { randomBytes } from 'node:crypto';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { blockSize, encodeBlock, getBlockOption, getOption, getUintOption, pathOptions, queryOptions } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, codeClass, formatCode, type CoapMessage, type DatagramTransport, type RemoteAddress } from '../../../src/coap/types.js';

export interface PullTarget {
  remote: RemoteAddress;
  path: string[];
  query: string[];
}

export function parseCoapUri(uri: string): PullTarget | undefined {
  const match = /^coap:\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?(\/[^?#]*)?(?:\?([^#]*))?$/.exec(uri);
  if (!match) return undefined;
  const host = match[1].replace(/^\[|\]$/g, '');
  const path = (match[3] ?? '').split('/').filter((s) => s !== '').map(decodeURIComponent);
  const query = match[4] ? match[4].split('&').filter((s) => s !== '').map(decodeURIComponent) : [];
  return { remote: { address: host === 'localhost' ? '127.0.0.1' : host, port: match[2] ? Number(match[2]) : 5683 }, path, query };
}

export class PullError extends Error {
  override readonly name = 'PullError';
  constructor(
    message: string,
    /** 'lost' when the server stopped answering; 'refused' when it answered an error. */
    readonly kind: 'lost' | 'refused' | 'changed' | 'aborted' | 'simulated-loss',
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
}

export class BlockPuller {
  private waiting: { messageId: number; token: Buffer; resolve: (msg: CoapMessage) => void } | undefined;
  private nextMessageId = Math.floor(Math.random() * 0x10000);
  private aborted = false;

  constructor(private readonly transport: DatagramTransport) {
    transport.onDatagram((datagram, remote) => this.onDatagram(datagram, remote));
  }

  abort(): void {
    this.aborted = true;
  }

  async pull(options: PullOptions): Promise<void> {
    let szx = options.szx;
    let offset = options.offset;
    let etag = options.etag;
    let total: number | undefined;
    for (;;) {
      if (this.aborted) throw new PullError('aborted', 'aborted');
      const size = blockSize(szx);
      const num = Math.floor(offset / size);
      const response = await this.exchange(options, num, szx);
      if (codeClass(response.code) !== 2) {
        throw new PullError(`server answered ${formatCode(response.code)}: ${response.payload.toString('utf8').slice(0, 100)}`, 'refused');
      }
      const block = getBlockOption(response, CoapOptionNumber.Block2);
      const responseEtag = getOption(response, CoapOptionNumber.ETag);
      if (etag !== undefined && responseEtag !== undefined && !etag.equals(responseEtag)) {
        throw new PullError('the image changed on the server (ETag differs)', 'changed');
      }
      etag ??= responseEtag;
      total ??= getUintOption(response, CoapOptionNumber.Size2);
      if (block === undefined) {
        // Small image, sent whole.
        options.onBlock({ offset: 0, payload: response.payload, total: response.payload.length, etag, last: true });
        return;
      }
      if (block.num * blockSize(block.szx) !== offset) throw new PullError(`asked for byte ${offset}, got block ${block.num}`, 'refused');
      // The server may answer with smaller blocks than we asked: follow it.
      szx = block.szx;
      const keepGoing = options.onBlock({ offset, payload: response.payload, total, etag, last: !block.more });
      if (!block.more) return;
      if (keepGoing === false) throw new PullError('aborted', 'aborted');
      offset += response.payload.length;
    }
  }

  private exchange(options: PullOptions, num: number, szx: number): Promise<CoapMessage> {
    const token = randomBytes(4);
    const messageId = (this.nextMessageId = (this.nextMessageId + 1) & 0xffff);
    const bytes = serializeMessage({
      type: 'CON',
      code: CoapCode.GET,
      messageId,
      token,
      options: [
        ...pathOptions(options.target.path),
        ...queryOptions(options.target.query),
        { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) },
      ].sort((a, b) => a.number - b.number),
      payload: Buffer.alloc(0),
    });
    return new Promise<CoapMessage>((resolve, reject) => {
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (this.aborted) {
          this.waiting = undefined;
          reject(new PullError('aborted', 'aborted'));
          return;
        }
        if (attempt > options.maxRetransmit) {
          this.waiting = undefined;
          reject(new PullError(`no answer for block ${num} after ${attempt} transmissions`, 'lost'));
          return;
        }
        const wait = options.ackTimeoutMs * 2 ** attempt * (1 + Math.random() * 0.5);
        attempt++;
        try {
          this.transport.send(bytes, options.target.remote);
        } catch {
          // A closed socket: the timeout below reports the loss.
        }
        timer = setTimeout(send, wait);
        timer.unref();
      };
      this.waiting = {
        messageId,
        token,
        resolve: (msg) => {
          clearTimeout(timer);
          this.waiting = undefined;
          resolve(msg);
        },
      };
      send();
    });
  }

  private onDatagram(datagram: Buffer, remote: RemoteAddress): void {
    let msg: CoapMessage;
    try {
      msg = parseMessage(datagram);
    } catch {
      return;
    }
    const waiting = this.waiting;
    if (msg.type === 'CON') {
      // A separate response: acknowledge it whatever it is (duplicates included).
      this.transport.send(serializeMessage({ type: 'ACK', code: 0, messageId: msg.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }), remote);
    }
    if (!waiting || msg.code === CoapCode.Empty) return;
    if (!msg.token.equals(waiting.token)) return;
    if (msg.type === 'ACK' && msg.messageId !== waiting.messageId) return;
    waiting.resolve(msg);
  }
}
