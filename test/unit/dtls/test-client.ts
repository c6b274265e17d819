/**
 * A deliberately small DTLS 1.2 PSK client for tests (not a test file itself): it speaks
 * just enough to drive our server through full and abbreviated handshakes, Connection IDs
 * and application data, one datagram at a time, with no socket of its own.
 */
import { randomBytes } from 'node:crypto';
import { u16, u8, vec16, vec8 } from '../../../src/dtls/bytes.js';
import { cipherSuiteById, keyBlockLength, type CipherSuite } from '../../../src/dtls/cipher-suites.js';
import { ContentType, DTLS_1_2, ExtensionType, HandshakeType } from '../../../src/dtls/constants.js';
import { encodeHandshakeFragment, encodeHandshakeMessage, HandshakeInbox, parseHandshakeFragments, type HandshakeMessage } from '../../../src/dtls/handshake-framing.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256 } from '../../../src/dtls/prf.js';
import { encodeRecord, parseRecords } from '../../../src/dtls/record.js';
import { createRecordProtection, splitKeyBlock, type RecordProtection } from '../../../src/dtls/record-protection.js';

export interface TestClientOptions {
  identity: string;
  psk: Buffer;
  suite?: number;
  extendedMasterSecret?: boolean;
  /** Offer RFC 9146 with this CID for records sent to us (empty = we only send CIDs). */
  offerCid?: Buffer;
  /** Resume this session. */
  resume?: { sessionId: Buffer; masterSecret: Buffer };
  /** Length of the server's CIDs (to parse records that carry one). */
  serverCidLength?: number;
}

export class TestPskClient {
  readonly random = randomBytes(32);
  cookie = Buffer.alloc(0);
  serverRandom?: Buffer;
  sessionId = Buffer.alloc(0);
  master?: Buffer;
  /** CID the server asked us to put on records (from its ServerHello). */
  serverCid?: Buffer;
  established = false;
  resumed = false;
  readonly received: Buffer[] = [];
  readonly alerts: Array<[number, number]> = [];
  readonly handshakeTypes: number[] = [];
  private suite: CipherSuite;
  private sendSeq = 0;
  private writeSeq1 = 0;
  private messageSeq = 0;
  private transcript: Buffer[] = [];
  private inbox = new HandshakeInbox(0);
  private read1?: RecordProtection;
  private write1?: RecordProtection;
  private readEpoch = 0;
  private pendingRead?: RecordProtection;
  private serverHelloDone = false;
  private ems = false;

  constructor(private readonly opts: TestClientOptions) {
    this.suite = cipherSuiteById(opts.suite ?? 0xc0a8)!;
  }

  private record(epoch: number, type: number, content: Buffer): Buffer {
    if (epoch === 0) return encodeRecord({ type, version: DTLS_1_2, epoch, sequence: this.sendSeq++, fragment: content });
    const cid = this.serverCid && this.serverCid.length > 0 ? this.serverCid : undefined;
    const header = { type: cid ? ContentType.Tls12Cid : type, version: DTLS_1_2, epoch, sequence: this.writeSeq1++, ...(cid ? { cid } : {}) };
    return encodeRecord({ ...header, fragment: this.write1!.seal(header, type, content) });
  }

  private message(msgType: number, body: Buffer, hashed = true): HandshakeMessage {
    const m = { msgType, messageSeq: this.messageSeq++, body };
    if (hashed) this.transcript.push(encodeHandshakeMessage(m));
    return m;
  }

  /** The ClientHello (with the cookie once the server sent one). */
  hello(): Buffer {
    const exts: Buffer[] = [];
    const ext = (type: number, data: Buffer): void => void exts.push(Buffer.concat([u16(type), vec16(data)]));
    if (this.opts.extendedMasterSecret ?? true) ext(ExtensionType.ExtendedMasterSecret, Buffer.alloc(0));
    if (this.opts.offerCid) ext(ExtensionType.ConnectionId, vec8(this.opts.offerCid));
    ext(ExtensionType.RenegotiationInfo, Buffer.from([0]));
    const body = Buffer.concat([
      u16(DTLS_1_2), this.random, vec8(this.opts.resume?.sessionId ?? Buffer.alloc(0)), vec8(this.cookie),
      vec16(u16(this.suite.id)), vec8(Buffer.from([0])), vec16(Buffer.concat(exts)),
    ]);
    // The first hello is not part of the transcript (RFC 6347 §4.2.6); the one with a cookie is.
    this.transcript = [];
    const m = this.message(HandshakeType.ClientHello, body, this.cookie.length > 0);
    return this.record(0, ContentType.Handshake, encodeHandshakeMessage(m));
  }

  receive(datagram: Buffer): void {
    const { records } = parseRecords(datagram, this.opts.offerCid?.length ?? 0);
    for (const r of records) {
      let type = r.type;
      let content = r.fragment;
      if (r.epoch === 1) {
        const opened = this.read1?.open(r, r.fragment);
        if (!opened) continue;
        type = opened.type;
        content = opened.content;
      }
      if (type === ContentType.Alert) this.alerts.push([content[0], content[1]]);
      else if (type === ContentType.ChangeCipherSpec) {
        this.readEpoch = 1;
        this.read1 = this.pendingRead;
      } else if (type === ContentType.ApplicationData) this.received.push(Buffer.from(content));
      else if (type === ContentType.Handshake) {
        for (const f of parseHandshakeFragments(content)) {
          if (f.msgType === HandshakeType.HelloVerifyRequest) {
            this.cookie = Buffer.from(content.subarray(12 + 3, 12 + 3 + content[12 + 2]));
            this.messageSeq = 1;
            this.inbox = new HandshakeInbox(1);
            continue;
          }
          const result = this.inbox.add(f);
          if (result.kind !== 'messages') continue;
          for (const m of result.messages) this.onMessage(m);
        }
      }
    }
  }

  private onMessage(m: HandshakeMessage): void {
    this.handshakeTypes.push(m.msgType);
    if (m.msgType === HandshakeType.ServerHello) {
      this.transcript.push(encodeHandshakeMessage(m));
      this.serverRandom = Buffer.from(m.body.subarray(2, 34));
      const sidLength = m.body[34];
      this.sessionId = Buffer.from(m.body.subarray(35, 35 + sidLength));
      let at = 35 + sidLength + 3;
      if (at < m.body.length) {
        const end = at + 2 + m.body.readUInt16BE(at);
        at += 2;
        while (at < end) {
          const type = m.body.readUInt16BE(at);
          const data = m.body.subarray(at + 4, at + 4 + m.body.readUInt16BE(at + 2));
          if (type === ExtensionType.ConnectionId) this.serverCid = Buffer.from(data.subarray(1, 1 + data[0]));
          if (type === ExtensionType.ExtendedMasterSecret) this.ems = true;
          at += 4 + data.length;
        }
      }
      if (this.opts.resume && this.sessionId.equals(this.opts.resume.sessionId)) {
        this.resumed = true;
        this.master = this.opts.resume.masterSecret;
        this.deriveKeys();
      }
    } else if (m.msgType === HandshakeType.ServerHelloDone) {
      this.transcript.push(encodeHandshakeMessage(m));
      this.serverHelloDone = true;
    } else if (m.msgType === HandshakeType.Finished) {
      const expected = finishedVerifyData(this.master!, 'server', sha256(Buffer.concat(this.transcript)));
      if (!expected.equals(m.body)) throw new Error('server Finished mismatch');
      this.transcript.push(encodeHandshakeMessage(m));
      if (!this.resumed) this.established = true;
    } else {
      this.transcript.push(encodeHandshakeMessage(m));
    }
  }

  private deriveKeys(): void {
    const keys = splitKeyBlock(this.suite, keyBlock(this.master!, this.random, this.serverRandom!, keyBlockLength(this.suite)));
    this.pendingRead = createRecordProtection(this.suite, keys.server);
    this.write1 = createRecordProtection(this.suite, keys.client);
  }

  /** ClientKeyExchange, ChangeCipherSpec, Finished in one datagram (full handshake). */
  finishFlight(): Buffer {
    if (!this.serverHelloDone) throw new Error('no ServerHelloDone yet');
    const cke = this.message(HandshakeType.ClientKeyExchange, vec16(Buffer.from(this.opts.identity, 'utf8')));
    this.master = masterSecret({
      premaster: pskPremaster(this.opts.psk), clientRandom: this.random, serverRandom: this.serverRandom!,
      ...(this.ems ? { sessionHash: sha256(Buffer.concat(this.transcript)) } : {}),
    });
    this.deriveKeys();
    return Buffer.concat([this.record(0, ContentType.Handshake, encodeHandshakeMessage(cke)), ...this.ccsAndFinished()]);
  }

  private lastFinished?: HandshakeMessage;

  private ccsAndFinished(): Buffer[] {
    const ccs = this.record(0, ContentType.ChangeCipherSpec, Buffer.from([1]));
    const finished = this.message(HandshakeType.Finished, finishedVerifyData(this.master!, 'client', sha256(Buffer.concat(this.transcript))));
    this.lastFinished = finished;
    return [ccs, this.record(1, ContentType.Handshake, encodeHandshakeMessage(finished))];
  }

  /** Abbreviated handshake: our ChangeCipherSpec and Finished after the server's. */
  resumeFinish(): Buffer {
    const out = Buffer.concat(this.ccsAndFinished());
    this.established = true;
    return out;
  }

  /** Our Finished again, as a client would retransmit it when the server's flight was lost. */
  retransmitFinished(): Buffer {
    return this.record(1, ContentType.Handshake, encodeHandshakeMessage(this.lastFinished!));
  }

  appData(data: Buffer): Buffer {
    return this.record(1, ContentType.ApplicationData, data);
  }

  alert(level: number, description: number): Buffer {
    return this.record(this.write1 && this.established ? 1 : 0, ContentType.Alert, Buffer.from([level, description]));
  }

  /** A ClientHello inside the secured session (renegotiation attempt). */
  renegotiationHello(): Buffer {
    const m = { msgType: HandshakeType.ClientHello, messageSeq: this.messageSeq++, body: Buffer.concat([u16(DTLS_1_2), randomBytes(32), u8(0), u8(0), vec16(u16(this.suite.id)), vec8(Buffer.from([0]))]) };
    return this.record(1, ContentType.Handshake, encodeHandshakeFragment({ msgType: m.msgType, length: m.body.length, messageSeq: m.messageSeq, fragmentOffset: 0, body: m.body }));
  }

  get readEpochNow(): number {
    return this.readEpoch;
  }
}
