/**
 * One peer's DTLS session, from the cookie-verified ClientHello to close. No sockets: bytes
 * leave through ctx.sendDatagram and decrypted application data through ctx.deliver.
 * Legality of every handshake step is decided by handshake-machine.ts; this class performs
 * the effects (crypto, flights, retransmission).
 *
 * Memory: a server holds thousands of established sessions, so everything only the
 * handshake needs lives in one `Handshake` object that is dropped when the client's Finished
 * is verified. An established session keeps its keys, two replay windows, its sequence
 * counters and, until the client's first application data proves it has our Finished, the
 * 12 bytes needed to resend our last flight.
 */
import { createECDH, randomBytes, sign, timingSafeEqual, verify, type ECDH, type KeyObject } from 'node:crypto';
import type { RemoteAddress } from '../coap/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { u8 } from './bytes.js';
import { keyBlockLength, type CipherSuite } from './cipher-suites.js';
import type { DtlsEvent, DtlsLimits, DtlsPeerIdentity, DtlsPskConfig, DtlsStats } from './config.js';
import { AlertDescription, AlertLevel, CertificateType, ContentType, DTLS_1_2, ExtensionType, HandshakeType, SIG_ECDSA_SHA256 } from './constants.js';
import { checkRawPublicKey, verifyClientChain, type EcdsaCredentials } from './credentials.js';
import { encodeHandshakeFragment, encodeHandshakeMessage, fragmentHandshake, HandshakeInbox, parseHandshakeFragments, type HandshakeMessage } from './handshake-framing.js';
import { isHandshaking, transition, type HandshakeEvent, type HandshakePhase } from './handshake-machine.js';
import { encodeServerHello, type ClientHello } from './hello-messages.js';
import {
  ecdheServerParams, encodeCertificate, encodeCertificateRequest, encodeEcdheServerKeyExchange, encodePskServerKeyExchange,
  parseCertificate, parseCertificateVerify, parseEcdheClientKeyExchange, parsePskClientKeyExchange,
} from './key-exchange-messages.js';
import type { Negotiated } from './negotiation.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256 } from './prf.js';
import { encodeRecord, MAX_SEQUENCE, recordHeaderLength, type DtlsRecord } from './record.js';
import { createRecordProtection, sealOverhead, splitKeyBlock, type RecordProtection } from './record-protection.js';
import { ReplayWindow } from './replay-window.js';

/** What a resumable session keeps (RFC 5246 §7.4.1.2 session id resumption). */
export interface ResumableSession {
  sessionId: Buffer;
  masterSecret: Buffer;
  suite: CipherSuite;
  extendedMasterSecret: boolean;
  identity: DtlsPeerIdentity;
}

export interface ConnectionContext {
  clock: Clock;
  limits: DtlsLimits;
  stats: DtlsStats;
  psk?: DtlsPskConfig;
  ecdsa?: EcdsaCredentials;
  sendDatagram(datagram: Buffer, remote: RemoteAddress): void;
  deliver(data: Buffer, remote: RemoteAddress): void;
  emit(event: DtlsEvent): void;
  onEstablished(connection: DtlsConnection): void;
  onClosed(connection: DtlsConnection): void;
  /** A CID record authenticated from a new address: the session moves there. */
  onAddressChange(connection: DtlsConnection, from: RemoteAddress): void;
}

export interface HelloContext {
  hello: ClientHello;
  helloMessage: HandshakeMessage;
  helloRecordSequence: number;
  negotiated: Negotiated;
  /** Our Connection ID for this session (empty when CID is not used). */
  ownCid: Buffer;
  resume?: ResumableSession;
}

type FlightEntry = { kind: 'handshake'; epoch: number; message: HandshakeMessage } | { kind: 'ccs' };

/** Handshake-only state: everything here is garbage once the session is established. */
interface Handshake {
  readonly negotiated: Negotiated;
  readonly serverRandom: Buffer;
  readonly sessionId: Buffer;
  readonly inbox: HandshakeInbox;
  readonly transcript: Buffer[];
  nextSendSeq: number;
  pendingRead?: RecordProtection;
  pendingWrite?: RecordProtection;
  master?: Buffer;
  ecdh?: ECDH;
  clientPublicKey?: KeyObject;
  lastFlight?: FlightEntry[];
  timer?: TimerHandle;
  retransmissions: number;
  retransmitDelay: number;
}

export class DtlsConnection {
  phase: HandshakePhase;
  remote: RemoteAddress;
  lastActivity: number;
  identity?: DtlsPeerIdentity;
  readonly ownCid: Buffer;
  readonly suite: CipherSuite;
  readonly clientRandom: Buffer;
  readonly wasResumed: boolean;
  private readonly peerCid?: Buffer;
  private hs?: Handshake;

  /** Epoch 0 reads: until our last flight is known to have arrived (see `finalFinished`). */
  private window0?: ReplayWindow;
  private window1?: ReplayWindow;
  private read1?: RecordProtection;
  private write1?: RecordProtection;
  private writeSeq0: number;
  private writeSeq1 = 0;
  /** Client messages below this seq belong to the flight before our last one. */
  private peerFlightStartSeq = 0;
  /** The client's next handshake message_seq once the handshake is over. */
  private peerNextSeq = 0;
  /**
   * Full handshake only: our Finished, kept after establishment so that a repeat of the
   * client's final flight (our CCS+Finished was lost) can be answered, until the client's
   * first application data shows it has them.
   */
  private finalFinished?: HandshakeMessage;
  private resentForCurrentDatagram = false;

  constructor(private readonly ctx: ConnectionContext, remote: RemoteAddress, hc: HelloContext) {
    this.remote = remote;
    this.lastActivity = ctx.clock.now();
    this.suite = hc.resume?.suite ?? hc.negotiated.suite;
    this.clientRandom = Buffer.from(hc.hello.random);
    this.ownCid = hc.ownCid;
    if (hc.negotiated.peerCid && hc.negotiated.peerCid.length > 0) this.peerCid = hc.negotiated.peerCid;
    this.wasResumed = hc.resume !== undefined;
    const hs: Handshake = {
      negotiated: hc.negotiated,
      serverRandom: randomBytes(32),
      sessionId: hc.resume?.sessionId ?? (ctx.limits.sessionCacheSize > 0 ? randomBytes(32) : Buffer.alloc(0)),
      // Stateless cookie exchange: our numbering continues from the client's (RFC 6347 §4.2.2),
      // and our record numbers start above the HelloVerifyRequest that reused the client's.
      inbox: new HandshakeInbox(hc.helloMessage.messageSeq + 1),
      transcript: [encodeHandshakeMessage(hc.helloMessage)],
      nextSendSeq: hc.helloMessage.messageSeq,
      retransmissions: 0,
      retransmitDelay: ctx.limits.initialRetransmitMs,
    };
    this.hs = hs;
    this.window0 = new ReplayWindow();
    this.window0.mark(hc.helloRecordSequence);
    this.writeSeq0 = hc.helloRecordSequence + 1;
    if (hc.resume) {
      this.identity = hc.resume.identity;
      this.phase = 'resumedAwaitChangeCipherSpec';
      this.startResumed(hs, hc.resume);
    } else {
      this.phase = 'awaitClientKeyExchange';
      this.startFull(hs);
    }
  }

  isClosed(): boolean {
    return this.phase === 'closed';
  }

  get established(): boolean {
    return this.phase === 'established';
  }

  // ---- flights we send -------------------------------------------------------------

  private serverHelloExtensions(hs: Handshake): Array<{ type: number; data: Buffer }> {
    const n = hs.negotiated;
    const out: Array<{ type: number; data: Buffer }> = [];
    if (n.secureRenegotiation) out.push({ type: ExtensionType.RenegotiationInfo, data: Buffer.from([0]) });
    if (n.extendedMasterSecret) out.push({ type: ExtensionType.ExtendedMasterSecret, data: Buffer.alloc(0) });
    if (!this.wasResumed) {
      if (n.ecPointFormats) out.push({ type: ExtensionType.EcPointFormats, data: Buffer.from([1, 0]) });
      if (n.clientCert?.viaExtension) out.push({ type: ExtensionType.ClientCertificateType, data: u8(certTypeCode(n.clientCert.kind)) });
      if (n.serverCert?.viaExtension) out.push({ type: ExtensionType.ServerCertificateType, data: u8(certTypeCode(n.serverCert.kind)) });
    }
    if (n.peerCid !== undefined) out.push({ type: ExtensionType.ConnectionId, data: Buffer.concat([u8(this.ownCid.length), this.ownCid]) });
    return out;
  }

  private nextMessage(hs: Handshake, msgType: number, body: Buffer): HandshakeMessage {
    const message = { msgType, messageSeq: hs.nextSendSeq++, body };
    hs.transcript.push(encodeHandshakeMessage(message));
    return message;
  }

  private startFull(hs: Handshake): void {
    const n = hs.negotiated;
    const flight: FlightEntry[] = [];
    const add = (msgType: number, body: Buffer): void => {
      flight.push({ kind: 'handshake', epoch: 0, message: this.nextMessage(hs, msgType, body) });
    };
    add(HandshakeType.ServerHello, encodeServerHello({ random: hs.serverRandom, sessionId: hs.sessionId, cipherSuite: this.suite.id, extensions: this.serverHelloExtensions(hs) }));
    if (this.suite.keyExchange === 'ecdhe_ecdsa') {
      const creds = this.ctx.ecdsa!;
      const serverCert = n.serverCert!;
      add(HandshakeType.Certificate, encodeCertificate(serverCert.kind, serverCert.kind === 'rpk' ? [creds.spkiDer] : creds.chainDer));
      hs.ecdh = createECDH('prime256v1');
      const params = ecdheServerParams(hs.ecdh.generateKeys());
      const signature = sign('sha256', Buffer.concat([this.clientRandom, hs.serverRandom, params]), { key: creds.privateKey, dsaEncoding: 'der' });
      add(HandshakeType.ServerKeyExchange, encodeEcdheServerKeyExchange(params, signature));
      if (n.clientCert) {
        add(HandshakeType.CertificateRequest, encodeCertificateRequest());
        this.phase = 'awaitClientCertificate';
      }
    } else if (this.ctx.psk?.hint !== undefined) {
      add(HandshakeType.ServerKeyExchange, encodePskServerKeyExchange(this.ctx.psk.hint));
    }
    add(HandshakeType.ServerHelloDone, Buffer.alloc(0));
    this.sendNewFlight(hs, flight, true);
  }

  private startResumed(hs: Handshake, resume: ResumableSession): void {
    const hello = this.nextMessage(hs, HandshakeType.ServerHello, encodeServerHello({ random: hs.serverRandom, sessionId: hs.sessionId, cipherSuite: this.suite.id, extensions: this.serverHelloExtensions(hs) }));
    hs.master = resume.masterSecret;
    this.deriveKeys(hs);
    const finished = this.nextMessage(hs, HandshakeType.Finished, finishedVerifyData(hs.master, 'server', transcriptHash(hs)));
    this.sendNewFlight(hs, [{ kind: 'handshake', epoch: 0, message: hello }, { kind: 'ccs' }, { kind: 'handshake', epoch: 1, message: finished }], true);
  }

  private sendNewFlight(hs: Handshake, flight: FlightEntry[], expectsReply: boolean): void {
    hs.lastFlight = flight;
    this.peerFlightStartSeq = hs.inbox.expectedSeq;
    this.transmitFlight(flight);
    this.cancelTimer(hs);
    if (expectsReply) {
      hs.retransmissions = 0;
      hs.retransmitDelay = this.ctx.limits.initialRetransmitMs;
      this.armTimer(hs);
    }
  }

  private armTimer(hs: Handshake): void {
    hs.timer = this.ctx.clock.setTimeout(() => this.onRetransmitTimer(), hs.retransmitDelay);
  }

  private cancelTimer(hs: Handshake | undefined): void {
    if (hs?.timer) this.ctx.clock.clearTimeout(hs.timer);
    if (hs) hs.timer = undefined;
  }

  private onRetransmitTimer(): void {
    const hs = this.hs;
    if (!hs) return;
    hs.timer = undefined;
    if (!isHandshaking(this.phase)) return;
    if (hs.retransmissions >= this.ctx.limits.maxRetransmissions) {
      this.closeWith('handshake timed out', transition(this.phase, 'RetransmissionsExhausted'));
      return;
    }
    hs.retransmissions++;
    this.ctx.stats.retransmissions++;
    hs.retransmitDelay = Math.min(hs.retransmitDelay * 2, this.ctx.limits.maxRetransmitMs);
    if (hs.lastFlight) this.transmitFlight(hs.lastFlight);
    this.armTimer(hs);
  }

  /** The flight to resend when the client repeats its previous one, if we still have it. */
  private currentFlight(): FlightEntry[] | undefined {
    if (this.hs) return this.hs.lastFlight;
    return this.finalFinished ? [{ kind: 'ccs' }, { kind: 'handshake', epoch: 1, message: this.finalFinished }] : undefined;
  }

  /** Encodes a flight afresh (new record numbers) and packs it into PMTU-sized datagrams. */
  private transmitFlight(flight: FlightEntry[]): void {
    const records: Buffer[] = [];
    for (const entry of flight) {
      if (entry.kind === 'ccs') {
        records.push(this.encodeRecord(0, ContentType.ChangeCipherSpec, Buffer.from([1])));
        continue;
      }
      const withCid = entry.epoch > 0 && this.peerCid !== undefined;
      const room = this.ctx.limits.pmtu - recordHeaderLength(withCid ? this.peerCid!.length : 0) - sealOverhead(entry.epoch > 0 ? this.suite : undefined, withCid);
      for (const fragment of fragmentHandshake(entry.message, room)) {
        records.push(this.encodeRecord(entry.epoch, ContentType.Handshake, encodeHandshakeFragment(fragment)));
      }
    }
    let datagram: Buffer[] = [];
    let size = 0;
    for (const record of records) {
      if (size > 0 && size + record.length > this.ctx.limits.pmtu) {
        this.ctx.sendDatagram(Buffer.concat(datagram), this.remote);
        datagram = [];
        size = 0;
      }
      datagram.push(record);
      size += record.length;
    }
    if (size > 0) this.ctx.sendDatagram(Buffer.concat(datagram), this.remote);
  }

  private encodeRecord(epoch: number, type: number, content: Buffer): Buffer {
    if (epoch === 0 || !this.write1) {
      const sequence = this.writeSeq0++;
      if (sequence > MAX_SEQUENCE) throw new Error('DTLS sequence number space exhausted');
      return encodeRecord({ type, version: DTLS_1_2, epoch: 0, sequence, fragment: content });
    }
    const sequence = this.writeSeq1++;
    if (sequence > MAX_SEQUENCE) throw new Error('DTLS sequence number space exhausted');
    return this.write1.sealRecord(DTLS_1_2, 1, sequence, this.peerCid, type, content);
  }

  /** The epoch we write in: 1 once our ChangeCipherSpec is out. */
  private get writeEpoch(): number {
    return this.write1 ? 1 : 0;
  }

  // ---- records we receive ----------------------------------------------------------

  /** Called once per incoming datagram before its records, to resend our flight at most once. */
  beginDatagram(): void {
    this.resentForCurrentDatagram = false;
  }

  /**
   * Processes one record addressed to this session. `from` matters only for CID records:
   * an authenticated, newest CID record from elsewhere moves the session (RFC 9146 §6).
   */
  handleRecord(record: DtlsRecord, from: RemoteAddress): boolean {
    if (this.phase === 'closed') return false;
    const epoch = record.epoch;
    const window = epoch === 1 ? this.window1 : epoch === 0 ? this.window0 : undefined;
    if (!window) {
      this.ctx.stats.recordsDroppedNoSession++;
      return false;
    }
    const protection = epoch === 1 ? this.read1 : undefined;
    const usesCid = record.type === ContentType.Tls12Cid;
    if (protection) {
      // Once a CID is agreed, protected records must carry it (and only ours).
      if (this.ownCid.length > 0 ? !usesCid || !record.cid!.equals(this.ownCid) : usesCid) {
        this.ctx.stats.recordsDroppedMalformed++;
        return false;
      }
    } else if (usesCid) {
      this.ctx.stats.recordsDroppedMalformed++;
      return false;
    }
    if (!window.check(record.sequence)) {
      this.ctx.stats.recordsDroppedReplay++;
      return false;
    }
    let type = record.type;
    let content = record.fragment;
    if (protection) {
      const opened = protection.open(record, record.fragment);
      if (!opened) {
        this.ctx.stats.recordsDroppedBadMac++;
        // During the handshake a Finished that does not decrypt means the keys differ
        // (wrong PSK): fail loudly instead of letting the client time out.
        if (this.phase === 'awaitFinished' || this.phase === 'resumedAwaitFinished') {
          this.fail(AlertDescription.BadRecordMac, 'client Finished did not authenticate (wrong key?)');
        }
        return false;
      }
      type = opened.type;
      content = opened.content;
    }
    const newest = window.isNewest(record.sequence);
    window.mark(record.sequence);
    if (usesCid && newest && (from.address !== this.remote.address || from.port !== this.remote.port)) {
      this.ctx.onAddressChange(this, from);
    }
    this.lastActivity = this.ctx.clock.now();
    switch (type) {
      case ContentType.Handshake:
        this.onHandshakeRecord(content, epoch);
        break;
      case ContentType.ChangeCipherSpec:
        if (epoch === 0 && content.length === 1 && content[0] === 1) this.onEvent('ChangeCipherSpec');
        else this.fail(AlertDescription.UnexpectedMessage, 'malformed ChangeCipherSpec');
        break;
      case ContentType.Alert:
        this.onAlert(content, epoch);
        break;
      case ContentType.ApplicationData:
        if (epoch > 0 && this.phase === 'established') {
          if (this.window0) this.dropFinalFlight();
          // Decrypted content is a fresh buffer of its own: handed up without a copy.
          this.ctx.deliver(content, this.remote);
        }
        break;
      default:
        this.ctx.stats.recordsDroppedMalformed++;
    }
    return true;
  }

  private onAlert(content: Buffer, epoch: number): void {
    if (content.length !== 2) return;
    // An unprotected alert cannot end a protected session: anyone could forge it.
    if (epoch === 0 && this.window1 && this.phase === 'established') return;
    this.ctx.stats.alertsReceived++;
    const [level, description] = content;
    if (description === AlertDescription.CloseNotify) {
      this.sendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
      this.closeWith('peer sent close_notify', transition(this.phase, 'CloseNotify'));
    } else if (level === AlertLevel.Fatal) {
      this.closeWith(`peer sent fatal alert ${description}`, transition(this.phase, 'FatalAlert'));
    }
  }

  private onHandshakeRecord(content: Buffer, epoch: number): void {
    let fragments;
    try {
      fragments = parseHandshakeFragments(content);
    } catch {
      this.fail(AlertDescription.DecodeError, 'malformed handshake record');
      return;
    }
    for (const fragment of fragments) {
      if (this.phase === 'closed') return;
      if (epoch > 0 && fragment.msgType === HandshakeType.ClientHello && this.phase === 'established') {
        this.onEvent('ClientHello');
        continue;
      }
      if (epoch === 0 && this.window1) {
        // Unprotected handshake data after the client switched keys can only be a
        // retransmission; anything else is unauthenticated and must not touch the session.
        if (fragment.messageSeq < this.peerFlightStartSeq) this.resendOnce();
        continue;
      }
      const hs = this.hs;
      if (!hs) {
        // Established: the handshake is over and its reassembly state gone. Old messages
        // are the client repeating its final flight; anything new is unexpected.
        if (fragment.messageSeq < this.peerNextSeq) {
          if (fragment.messageSeq < this.peerFlightStartSeq) this.resendOnce();
          continue;
        }
        this.onEvent(eventFor(fragment.msgType));
        continue;
      }
      let result;
      try {
        result = hs.inbox.add(fragment);
      } catch {
        this.fail(AlertDescription.DecodeError, 'inconsistent handshake fragments');
        return;
      }
      if (result.kind === 'retransmission') {
        if (result.messageSeq < this.peerFlightStartSeq) this.resendOnce();
        continue;
      }
      for (const message of result.messages) {
        if (this.isClosed()) return;
        // Finished must arrive under the new keys; anything else in the first epoch.
        const expectEpoch = message.msgType === HandshakeType.Finished ? 1 : 0;
        if (epoch !== expectEpoch) {
          this.fail(AlertDescription.UnexpectedMessage, `handshake message ${message.msgType} in epoch ${epoch}`);
          return;
        }
        this.onEvent(eventFor(message.msgType), message);
      }
    }
  }

  /** RFC 6347 §4.2.4: a repeat of the client's previous flight means ours was lost. */
  private resendOnce(): void {
    if (this.resentForCurrentDatagram) return;
    const flight = this.currentFlight();
    if (!flight) return;
    this.resentForCurrentDatagram = true;
    this.ctx.stats.retransmissions++;
    this.transmitFlight(flight);
  }

  private onEvent(event: HandshakeEvent, message?: HandshakeMessage): void {
    const t = transition(this.phase, event);
    switch (t.kind) {
      case 'ignore':
        return;
      case 'refuseRenegotiation':
        this.ctx.stats.renegotiationsRefused++;
        this.sendAlert(AlertLevel.Warning, AlertDescription.NoRenegotiation);
        return;
      case 'fail':
        this.fail(t.alert, `unexpected ${event} in ${this.phase}`);
        return;
      case 'advance':
        break;
    }
    const problem = this.perform(event, message);
    if (problem) {
      this.fail(problem.alert, problem.reason);
      return;
    }
    this.phase = t.next;
    if (t.next === 'established') this.onHandshakeComplete();
  }

  /** The effect of an accepted handshake step; returns a reason to fail, if any. */
  private perform(event: HandshakeEvent, message?: HandshakeMessage): { alert: number; reason: string } | undefined {
    switch (event) {
      case 'Certificate':
        return this.onClientCertificate(message!);
      case 'ClientKeyExchange':
        return this.onClientKeyExchange(message!);
      case 'CertificateVerify':
        return this.onCertificateVerify(message!);
      case 'ChangeCipherSpec':
        this.read1 = this.hs!.pendingRead;
        this.window1 = new ReplayWindow();
        return undefined;
      case 'Finished':
        return this.onClientFinished(message!);
      default:
        return undefined;
    }
  }

  private onClientCertificate(message: HandshakeMessage): { alert: number; reason: string } | undefined {
    const kind = this.hs!.negotiated.clientCert!.kind;
    let items: Buffer[];
    try {
      items = parseCertificate(kind, message.body);
    } catch {
      return { alert: AlertDescription.DecodeError, reason: 'malformed Certificate' };
    }
    const hs = this.hs!;
    const creds = this.ctx.ecdsa!;
    const check = kind === 'rpk' ? checkRawPublicKey(items[0], creds.rpkAllowed) : verifyClientChain(items, creds.trustAnchors, this.ctx.clock.now());
    if (!check.ok) return { alert: check.alert, reason: check.reason };
    hs.clientPublicKey = check.publicKey;
    this.identity = kind === 'rpk' ? { kind: 'rpk', publicKeyDer: items[0] } : { kind: 'x509', subjectCN: check.subjectCN, chainDer: items };
    hs.transcript.push(encodeHandshakeMessage(message));
    return undefined;
  }

  private onClientKeyExchange(message: HandshakeMessage): { alert: number; reason: string } | undefined {
    const hs = this.hs!;
    let premaster: Buffer;
    try {
      if (this.suite.keyExchange === 'psk') {
        const identity = parsePskClientKeyExchange(message.body);
        const psk = this.ctx.psk?.pskFor(identity);
        if (!psk) {
          this.ctx.stats.unknownPskIdentity++;
          this.ctx.emit({ kind: 'unknownPskIdentity', remote: { ...this.remote }, identity });
          return { alert: AlertDescription.UnknownPskIdentity, reason: `unknown PSK identity ${JSON.stringify(identity)}` };
        }
        this.identity = { kind: 'psk', identity };
        premaster = pskPremaster(psk);
      } else {
        premaster = hs.ecdh!.computeSecret(parseEcdheClientKeyExchange(message.body));
        hs.ecdh = undefined;
      }
    } catch {
      return { alert: AlertDescription.IllegalParameter, reason: 'bad ClientKeyExchange' };
    }
    hs.transcript.push(encodeHandshakeMessage(message));
    hs.master = masterSecret({
      premaster,
      clientRandom: this.clientRandom,
      serverRandom: hs.serverRandom,
      ...(hs.negotiated.extendedMasterSecret ? { sessionHash: transcriptHash(hs) } : {}),
    });
    this.deriveKeys(hs);
    return undefined;
  }

  private onCertificateVerify(message: HandshakeMessage): { alert: number; reason: string } | undefined {
    let parsed;
    try {
      parsed = parseCertificateVerify(message.body);
    } catch {
      return { alert: AlertDescription.DecodeError, reason: 'malformed CertificateVerify' };
    }
    if (parsed.algorithm !== SIG_ECDSA_SHA256) return { alert: AlertDescription.IllegalParameter, reason: 'CertificateVerify algorithm not offered' };
    const hs = this.hs!;
    const signed = Buffer.concat(hs.transcript);
    let good = false;
    try {
      good = verify('sha256', signed, { key: hs.clientPublicKey!, dsaEncoding: 'der' }, parsed.signature);
    } catch {
      good = false;
    }
    if (!good) return { alert: AlertDescription.DecryptError, reason: 'CertificateVerify signature invalid' };
    hs.transcript.push(encodeHandshakeMessage(message));
    return undefined;
  }

  private onClientFinished(message: HandshakeMessage): { alert: number; reason: string } | undefined {
    const hs = this.hs!;
    const expected = finishedVerifyData(hs.master!, 'client', transcriptHash(hs));
    if (message.body.length !== expected.length || !timingSafeEqual(message.body, expected)) {
      return { alert: AlertDescription.DecryptError, reason: 'client Finished verify_data mismatch' };
    }
    hs.transcript.push(encodeHandshakeMessage(message));
    if (!this.wasResumed) {
      const finished = this.nextMessage(hs, HandshakeType.Finished, finishedVerifyData(hs.master!, 'server', transcriptHash(hs)));
      this.write1 = hs.pendingWrite;
      this.sendNewFlight(hs, [{ kind: 'ccs' }, { kind: 'handshake', epoch: 1, message: finished }], false);
      this.finalFinished = finished;
    }
    return undefined;
  }

  private deriveKeys(hs: Handshake): void {
    const block = keyBlock(hs.master!, this.clientRandom, hs.serverRandom, keyBlockLength(this.suite));
    const keys = splitKeyBlock(this.suite, block);
    hs.pendingRead = createRecordProtection(this.suite, keys.client);
    hs.pendingWrite = createRecordProtection(this.suite, keys.server);
    // Our Finished goes first in an abbreviated handshake.
    if (this.wasResumed) this.write1 = hs.pendingWrite;
  }

  private onHandshakeComplete(): void {
    const hs = this.hs!;
    this.cancelTimer(hs);
    this.peerNextSeq = hs.inbox.expectedSeq;
    this.ctx.onEstablished(this);
    this.hs = undefined;
  }

  /**
   * After the client's first authenticated application data: it has our last flight, so
   * nothing it sends unprotected can matter to this session any more.
   */
  private dropFinalFlight(): void {
    this.finalFinished = undefined;
    this.window0 = undefined;
  }

  /** Data for the cache, so a later ClientHello can resume this session (during onEstablished). */
  resumable(): ResumableSession | undefined {
    const hs = this.hs;
    if (!hs?.master || !this.identity || hs.sessionId.length === 0) return undefined;
    return { sessionId: hs.sessionId, masterSecret: hs.master, suite: this.suite, extendedMasterSecret: hs.negotiated.extendedMasterSecret, identity: this.identity };
  }

  // ---- application side ------------------------------------------------------------

  sendApplicationData(data: Buffer): boolean {
    if (this.phase !== 'established') return false;
    this.ctx.sendDatagram(this.encodeRecord(this.writeEpoch, ContentType.ApplicationData, data), this.remote);
    return true;
  }

  /** Ends the session, telling the peer (close_notify) unless `silently`. */
  close(reason: string, silently = false): void {
    if (this.phase === 'closed') return;
    if (!silently) this.sendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
    this.closeWith(reason, { kind: 'advance', next: 'closed' });
  }

  private sendAlert(level: number, description: number): void {
    this.ctx.stats.alertsSent++;
    this.ctx.sendDatagram(this.encodeRecord(this.writeEpoch, ContentType.Alert, Buffer.from([level, description])), this.remote);
  }

  private fail(alert: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.sendAlert(AlertLevel.Fatal, alert);
    if (isHandshaking(this.phase)) this.ctx.emit({ kind: 'handshakeFailed', remote: { ...this.remote }, reason, alert });
    this.closeWith(reason, { kind: 'advance', next: 'closed' }, true);
  }

  private closeWith(reason: string, t: ReturnType<typeof transition>, failed = false): void {
    if (t.kind !== 'advance' || t.next !== 'closed') return;
    const wasHandshaking = isHandshaking(this.phase);
    if (wasHandshaking && !failed) this.ctx.emit({ kind: 'handshakeFailed', remote: { ...this.remote }, reason });
    if (wasHandshaking) this.ctx.stats.handshakesFailed++;
    this.phase = 'closed';
    this.cancelTimer(this.hs);
    this.hs = undefined;
    this.finalFinished = undefined;
    this.ctx.emit({ kind: 'sessionClosed', remote: { ...this.remote }, reason });
    this.ctx.onClosed(this);
  }
}

function transcriptHash(hs: Handshake): Buffer {
  return sha256(Buffer.concat(hs.transcript));
}

function eventFor(msgType: number): HandshakeEvent {
  switch (msgType) {
    case HandshakeType.Certificate:
      return 'Certificate';
    case HandshakeType.ClientKeyExchange:
      return 'ClientKeyExchange';
    case HandshakeType.CertificateVerify:
      return 'CertificateVerify';
    case HandshakeType.Finished:
      return 'Finished';
    case HandshakeType.ClientHello:
      return 'ClientHello';
    default:
      return 'OtherHandshake';
  }
}

const certTypeCode = (kind: 'x509' | 'rpk'): number => (kind === 'rpk' ? CertificateType.RawPublicKey : CertificateType.X509);
