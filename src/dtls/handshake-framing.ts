/**
 * Handshake message framing (RFC 6347 §4.2.2-4.2.3): the 12-byte header, splitting a
 * message into fragments that fit the path MTU, and putting fragments back together in
 * any order, overlapping or not.
 */
import { ByteReader, DtlsDecodeError, u16, u24, u8 } from './bytes.js';
import { HANDSHAKE_HEADER_LENGTH } from './constants.js';

export interface HandshakeFragment {
  msgType: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  body: Buffer;
}

export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

/** Largest handshake message we reassemble; certificate chains of constrained devices fit easily. */
export const MAX_HANDSHAKE_MESSAGE = 16 * 1024;

export function parseHandshakeFragments(fragment: Buffer): HandshakeFragment[] {
  const reader = new ByteReader(fragment);
  const out: HandshakeFragment[] = [];
  while (reader.remaining > 0) {
    const msgType = reader.u8();
    const length = reader.u24();
    const messageSeq = reader.u16();
    const fragmentOffset = reader.u24();
    const fragmentLength = reader.u24();
    const body = reader.bytes(fragmentLength);
    if (fragmentOffset + fragmentLength > length) throw new DtlsDecodeError('handshake fragment beyond message length');
    out.push({ msgType, length, messageSeq, fragmentOffset, body });
  }
  return out;
}

export function encodeHandshakeFragment(f: HandshakeFragment): Buffer {
  return Buffer.concat([u8(f.msgType), u24(f.length), u16(f.messageSeq), u24(f.fragmentOffset), u24(f.body.length), f.body]);
}

/** The whole message as one fragment: this form goes into the Finished transcript. */
export function encodeHandshakeMessage(m: HandshakeMessage): Buffer {
  return encodeHandshakeFragment({ msgType: m.msgType, length: m.body.length, messageSeq: m.messageSeq, fragmentOffset: 0, body: m.body });
}

/** Splits a message so that each fragment (header included) is at most `maxFragmentBytes`. */
export function fragmentHandshake(m: HandshakeMessage, maxFragmentBytes: number): HandshakeFragment[] {
  const room = Math.max(1, maxFragmentBytes - HANDSHAKE_HEADER_LENGTH);
  const out: HandshakeFragment[] = [];
  let offset = 0;
  do {
    const body = m.body.subarray(offset, offset + room);
    out.push({ msgType: m.msgType, length: m.body.length, messageSeq: m.messageSeq, fragmentOffset: offset, body });
    offset += body.length;
  } while (offset < m.body.length);
  return out;
}

/** Collects the fragments of one message; overlapping ranges are fine as long as they agree. */
class PartialMessage {
  private readonly data: Buffer;
  private readonly have: Uint8Array;
  private missing: number;

  constructor(readonly msgType: number, readonly length: number) {
    this.data = Buffer.alloc(length);
    this.have = new Uint8Array(length);
    this.missing = length;
  }

  add(f: HandshakeFragment): void {
    if (f.msgType !== this.msgType || f.length !== this.length) throw new DtlsDecodeError('fragment disagrees with its message header');
    for (let i = 0; i < f.body.length; i++) {
      const at = f.fragmentOffset + i;
      if (this.have[at] === 0) {
        this.have[at] = 1;
        this.data[at] = f.body[i];
        this.missing--;
      }
    }
  }

  complete(): Buffer | undefined {
    return this.missing === 0 ? this.data : undefined;
  }
}

export type InboxResult =
  | { kind: 'messages'; messages: HandshakeMessage[] }
  /** A fragment of a message we already processed: the peer is retransmitting. */
  | { kind: 'retransmission'; messageSeq: number };

/**
 * Delivers handshake messages in message_seq order. Messages from the future are buffered
 * (a few only), messages from the past are reported as retransmissions.
 */
export class HandshakeInbox {
  private readonly pending = new Map<number, PartialMessage>();
  private static readonly MAX_AHEAD = 8;

  constructor(private nextSeq: number) {}

  get expectedSeq(): number {
    return this.nextSeq;
  }

  add(f: HandshakeFragment): InboxResult {
    if (f.messageSeq < this.nextSeq) return { kind: 'retransmission', messageSeq: f.messageSeq };
    if (f.messageSeq >= this.nextSeq + HandshakeInbox.MAX_AHEAD) return { kind: 'messages', messages: [] };
    if (f.length > MAX_HANDSHAKE_MESSAGE) throw new DtlsDecodeError('handshake message too large');
    let partial = this.pending.get(f.messageSeq);
    if (!partial) {
      partial = new PartialMessage(f.msgType, f.length);
      this.pending.set(f.messageSeq, partial);
    }
    partial.add(f);
    const messages: HandshakeMessage[] = [];
    for (;;) {
      const next = this.pending.get(this.nextSeq);
      const body = next?.complete();
      if (!next || !body) break;
      messages.push({ msgType: next.msgType, messageSeq: this.nextSeq, body });
      this.pending.delete(this.nextSeq);
      this.nextSeq++;
    }
    return { kind: 'messages', messages };
  }
}
