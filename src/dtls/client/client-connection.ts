/**
 * One DTLS 1.2 client session with one server, without a socket: datagrams in
 * (handleDatagram), datagrams out (io.sendDatagram), decrypted application data up
 * (io.deliver). Legality of every handshake step is decided by client-machine.ts; this class
 * performs the effects (crypto, flights, retransmission with back-off on the injected clock).
 */
import { createECDH, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { ByteReader } from '../bytes.js';
import { CIPHER_SUITES, cipherSuiteById, keyBlockLength, type CipherSuite } from '../cipher-suites.js';
import {
  AlertDescription, AlertLevel, CertificateType, ContentType, DTLS_1_2, ExtensionType, HandshakeType, NamedGroup, SIG_ECDSA_SHA256,
} from '../constants.js';
import { encodeHandshakeFragment, encodeHandshakeMessage, fragmentHandshake, HandshakeInbox, parseHandshakeFragments, type HandshakeFragment, type HandshakeMessage } from '../handshake-framing.js';
import { encodeCertificate, parseCertificate } from '../key-exchange-messages.js';
import type { CertKind } from '../negotiation.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256 } from '../prf.js';
import { encodeRecord, MAX_SEQUENCE, parseRecords, recordHeaderLength, type DtlsRecord } from '../record.js';
import { createRecordProtection, sealOverhead, splitKeyBlock, type RecordProtection } from '../record-protection.js';
import { ReplayWindow } from '../replay-window.js';
import { clientIsHandshaking, clientTransition, type ClientEvent, type ClientPhase, type ClientTransition } from './client-machine.js';
import {
  encodeCertificateVerify, encodeClientHello, encodeEcdheClientKeyExchange, encodePskClientKeyExchange, parseCertificateRequest,
  parseEcdheServerKeyExchange, parseHelloVerifyRequest, parsePskServerKeyExchange, parseServerHello, type ServerHello,
} from './client-messages.js';
import { DEFAULT_RETRANSMISSION, DtlsHandshakeError, emptyClientStats, type DtlsClientConfig, type DtlsClientSession, type DtlsClientStats, type DtlsRetransmission } from './options.js';
import { checkServerCertificate, loadClientEcdsa, type ClientEcdsaCredentials } from './server-auth.js';

export interface DtlsClientIo {
  sendDatagram(datagram: Buffer): void;
  deliver(data: Buffer): void;
  onEstablished(): void;
  /** `error` is set when the session ended before or because of a failure. */
  onClosed(reason: string, error?: DtlsHandshakeError): void;
}

type FlightEntry = { kind: 'handshake'; epoch: number; message: HandshakeMessage } | { kind: 'ccs' };
type Problem = { alert: number; reason: string } | undefined;

interface ReadState {
  protection?: RecordProtection;
  window: ReplayWindow;
}
interface WriteState {
  protection?: RecordProtection;
  sequence: number;
}

/** How many HelloVerifyRequests with a new cookie we follow before giving up. */
const MAX_HELLO_VERIFY = 3;

export class DtlsClientConnection {
  phase: ClientPhase = 'awaitServerHello';
  readonly stats: DtlsClientStats = emptyClientStats();
  private readonly clock: Clock;
  private readonly retransmission: DtlsRetransmission;
  private readonly pmtu: number;
  private readonly ecdsa?: ClientEcdsaCredentials;
  private readonly clientRandom = randomBytes(32);
  private readonly offeredSuites: number[];
  private readonly offeredExtensions: Array<{ type: number; data: Buffer }>;
  private readonly offeredSessionId: Buffer;
  /** The CID we ask the server to put on records it sends us (undefined: CID not offered). */
  private readonly ownCid?: Buffer;
  private cookie: Buffer = Buffer.alloc(0);
  private helloVerifyCount = 0;

  private suite?: CipherSuite;
  private serverRandom?: Buffer;
  private sessionId: Buffer = Buffer.alloc(0);
  private ems = false;
  private resumed = false;
  /** The server's CID, put on every protected record we send (RFC 9146). */
  private peerCid?: Buffer;
  private serverCertKind: CertKind = 'x509';
  private clientCertKind: CertKind = 'x509';
  private serverPublicKey?: KeyObject;
  private serverSubject?: string;
  private serverPoint?: Buffer;
  private certificateRequested = false;
  private master?: Buffer;

  private transcript: Buffer[] = [];
  private inbox = new HandshakeInbox(0);
  private nextSendSeq = 0;
  private readonly reads = new Map<number, ReadState>([[0, { window: new ReplayWindow() }]]);
  private readonly writes = new Map<number, WriteState>([[0, { sequence: 0 }]]);
  private readEpoch = 0;
  private writeEpoch = 0;
  private pendingRead?: RecordProtection;
  private pendingWrite?: RecordProtection;

  private lastFlight?: FlightEntry[];
  private clientHelloMessage?: HandshakeMessage;
  /** Server messages below this seq belong to the flight before our last one. */
  private peerFlightStartSeq = 0;
  private timer?: TimerHandle;
  private retransmissions = 0;
  private retransmitDelay: number;
  private resentForCurrentDatagram = false;

  constructor(private readonly config: DtlsClientConfig, private readonly io: DtlsClientIo) {
    if (!config.psk && !config.ecdsa) throw new Error('DTLS client needs psk or ecdsa credentials');
    this.clock = config.clock ?? systemClock;
    this.retransmission = { ...DEFAULT_RETRANSMISSION, ...config.retransmission };
    this.retransmitDelay = this.retransmission.initialMs;
    this.pmtu = config.pmtu ?? 1200;
    if (config.ecdsa) this.ecdsa = loadClientEcdsa(config.ecdsa);
    const usable = CIPHER_SUITES.filter((s) => (s.keyExchange === 'psk' ? config.psk !== undefined : this.ecdsa !== undefined)).map((s) => s.id);
    this.offeredSuites = config.cipherSuites ? config.cipherSuites.filter((id) => usable.includes(id)) : usable;
    if (this.offeredSuites.length === 0) throw new Error('DTLS client: no cipher suite usable with the given credentials');
    if (config.cid) this.ownCid = config.cid === true ? Buffer.alloc(0) : randomBytes(config.cid.length);
    const resume = config.resumeSession;
    this.offeredSessionId = resume && this.offeredSuites.includes(resume.cipherSuite) ? resume.sessionId : Buffer.alloc(0);
    this.offeredExtensions = this.helloExtensions();
  }

  private helloExtensions(): Array<{ type: number; data: Buffer }> {
    const out: Array<{ type: number; data: Buffer }> = [
      { type: ExtensionType.ExtendedMasterSecret, data: Buffer.alloc(0) },
      { type: ExtensionType.RenegotiationInfo, data: Buffer.from([0]) },
    ];
    if (this.offeredSuites.some((id) => cipherSuiteById(id)!.keyExchange === 'ecdhe_ecdsa')) {
      out.push({ type: ExtensionType.SupportedGroups, data: Buffer.from([0, 2, 0, NamedGroup.secp256r1]) });
      out.push({ type: ExtensionType.EcPointFormats, data: Buffer.from([1, 0]) });
      out.push({ type: ExtensionType.SignatureAlgorithms, data: Buffer.from([0, 2, SIG_ECDSA_SHA256 >> 8, SIG_ECDSA_SHA256 & 0xff]) });
      if (this.ecdsa?.kind === 'rpk') {
        out.push({ type: ExtensionType.ClientCertificateType, data: Buffer.from([1, CertificateType.RawPublicKey]) });
        out.push({ type: ExtensionType.ServerCertificateType, data: Buffer.from([1, CertificateType.RawPublicKey]) });
      }
    }
    if (this.ownCid) out.push({ type: ExtensionType.ConnectionId, data: Buffer.concat([Buffer.from([this.ownCid.length]), this.ownCid]) });
    return out;
  }

  // ---- public surface ----------------------------------------------------------------

  /** Sends the first ClientHello. */
  start(): void {
    this.sendClientHello();
  }

  isClosed(): boolean {
    return this.phase === 'closed';
  }

  get established(): boolean {
    return this.phase === 'established';
  }

  get cipherSuiteName(): string | undefined {
    return this.suite?.name;
  }

  get wasResumed(): boolean {
    return this.resumed;
  }

  /** The server's CID we put on our records (undefined: none negotiated). */
  get serverConnectionId(): Buffer | undefined {
    return this.peerCid;
  }

  /** Subject CN of a verified server certificate. */
  get serverCommonName(): string | undefined {
    return this.serverSubject;
  }

  /** What a later connection needs to resume this session; undefined before it is established. */
  session(): DtlsClientSession | undefined {
    if (this.phase !== 'established' || !this.master || this.sessionId.length === 0) return undefined;
    return { sessionId: this.sessionId, masterSecret: this.master, cipherSuite: this.suite!.id, extendedMasterSecret: this.ems };
  }

  sendApplicationData(data: Buffer): boolean {
    if (this.phase !== 'established') return false;
    this.io.sendDatagram(this.encodeRecord(this.writeEpoch, ContentType.ApplicationData, data));
    return true;
  }

  /** Ends the session, telling the server (close_notify) unless `silently`. */
  close(reason = 'closed by the application', silently = false): void {
    if (this.phase === 'closed') return;
    if (!silently) this.sendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
    const error = clientIsHandshaking(this.phase) ? new DtlsHandshakeError(`handshake abandoned: ${reason}`) : undefined;
    this.closeWith(reason, { kind: 'advance', next: 'closed' }, error);
  }

  handleDatagram(datagram: Buffer): void {
    if (this.phase === 'closed') return;
    this.resentForCurrentDatagram = false;
    const { records, malformed } = parseRecords(datagram, this.ownCid?.length ?? 0);
    this.stats.recordsDroppedMalformed += malformed;
    try {
      for (const record of records) {
        if (this.isClosed()) return;
        this.handleRecord(record);
      }
    } catch (err) {
      // A bug must end this session cleanly, not leave it half-way.
      this.fail(AlertDescription.InternalError, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // ---- flights we send -----------------------------------------------------------------

  private nextMessage(msgType: number, body: Buffer, hashed = true): HandshakeMessage {
    const message = { msgType, messageSeq: this.nextSendSeq++, body };
    if (hashed) this.transcript.push(encodeHandshakeMessage(message));
    return message;
  }

  private sendClientHello(): void {
    const body = encodeClientHello({
      random: this.clientRandom,
      sessionId: this.offeredSessionId,
      cookie: this.cookie,
      cipherSuites: this.offeredSuites,
      extensions: this.offeredExtensions,
    });
    // RFC 6347 §4.2.6: the transcript starts at the ClientHello the server accepts, so only
    // the latest one counts; it is kept aside until the ServerHello says which.
    this.transcript = [];
    this.clientHelloMessage = this.nextMessage(HandshakeType.ClientHello, body, false);
    this.sendNewFlight([{ kind: 'handshake', epoch: 0, message: this.clientHelloMessage }], true);
  }

  private sendNewFlight(flight: FlightEntry[], expectsReply: boolean): void {
    this.lastFlight = flight;
    this.peerFlightStartSeq = this.inbox.expectedSeq;
    this.transmitFlight();
    this.cancelTimer();
    if (expectsReply) {
      this.retransmissions = 0;
      this.retransmitDelay = this.retransmission.initialMs;
      this.armTimer();
    }
  }

  private armTimer(): void {
    this.timer = this.clock.setTimeout(() => this.onRetransmitTimer(), this.retransmitDelay);
  }

  private cancelTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onRetransmitTimer(): void {
    this.timer = undefined;
    if (!clientIsHandshaking(this.phase)) return;
    if (this.retransmissions >= this.retransmission.maxRetransmissions) {
      const reason = `handshake timed out after ${this.retransmissions} retransmissions`;
      this.closeWith(reason, clientTransition(this.phase, 'RetransmissionsExhausted'), new DtlsHandshakeError(reason));
      return;
    }
    this.retransmissions++;
    this.stats.retransmissions++;
    this.retransmitDelay = Math.min(this.retransmitDelay * 2, this.retransmission.maxMs);
    this.transmitFlight();
    this.armTimer();
  }

  /** Encodes the last flight afresh (new record numbers) and packs it into PMTU-sized datagrams. */
  private transmitFlight(): void {
    if (!this.lastFlight) return;
    const records: Buffer[] = [];
    for (const entry of this.lastFlight) {
      if (entry.kind === 'ccs') {
        records.push(this.encodeRecord(0, ContentType.ChangeCipherSpec, Buffer.from([1])));
        continue;
      }
      const withCid = entry.epoch > 0 && this.peerCid !== undefined;
      const room = this.pmtu - recordHeaderLength(withCid ? this.peerCid!.length : 0) - sealOverhead(entry.epoch > 0 ? this.suite : undefined, withCid);
      for (const fragment of fragmentHandshake(entry.message, room)) {
        records.push(this.encodeRecord(entry.epoch, ContentType.Handshake, encodeHandshakeFragment(fragment)));
      }
    }
    let datagram: Buffer[] = [];
    let size = 0;
    for (const record of records) {
      if (size > 0 && size + record.length > this.pmtu) {
        this.io.sendDatagram(Buffer.concat(datagram));
        datagram = [];
        size = 0;
      }
      datagram.push(record);
      size += record.length;
    }
    if (size > 0) this.io.sendDatagram(Buffer.concat(datagram));
  }

  private encodeRecord(epoch: number, type: number, content: Buffer): Buffer {
    const state = this.writes.get(epoch)!;
    const sequence = state.sequence++;
    if (sequence > MAX_SEQUENCE) throw new Error('DTLS sequence number space exhausted');
    if (!state.protection) return encodeRecord({ type, version: DTLS_1_2, epoch, sequence, fragment: content });
    // Header and protected fragment in one allocation (the server's send path does the same).
    return state.protection.sealRecord(DTLS_1_2, epoch, sequence, this.peerCid, type, content);
  }

  private sendAlert(level: number, description: number): void {
    this.stats.alertsSent++;
    this.io.sendDatagram(this.encodeRecord(this.writeEpoch, ContentType.Alert, Buffer.from([level, description])));
  }

  // ---- records we receive --------------------------------------------------------------

  private handleRecord(record: DtlsRecord): void {
    const read = this.reads.get(record.epoch);
    if (!read) {
      // A record from an epoch we have not reached (it overtook the ChangeCipherSpec) or
      // left: dropped; the server's retransmission brings it again.
      this.stats.recordsDroppedMalformed++;
      return;
    }
    const usesCid = record.type === ContentType.Tls12Cid;
    const expectCid = read.protection !== undefined && this.ownCid !== undefined && this.ownCid.length > 0;
    if (usesCid !== expectCid || (usesCid && !record.cid!.equals(this.ownCid!))) {
      this.stats.recordsDroppedMalformed++;
      return;
    }
    if (!read.window.check(record.sequence)) {
      this.stats.recordsDroppedReplay++;
      return;
    }
    let type = record.type;
    let content = record.fragment;
    if (read.protection) {
      const opened = read.protection.open(record, record.fragment);
      if (!opened) {
        this.stats.recordsDroppedBadMac++;
        return;
      }
      type = opened.type;
      content = opened.content;
    }
    read.window.mark(record.sequence);
    switch (type) {
      case ContentType.Handshake:
        this.onHandshakeRecord(content, record.epoch);
        break;
      case ContentType.ChangeCipherSpec:
        if (record.epoch === 0 && content.length === 1 && content[0] === 1) this.onEvent('ChangeCipherSpec');
        else this.fail(AlertDescription.UnexpectedMessage, 'malformed ChangeCipherSpec');
        break;
      case ContentType.Alert:
        this.onAlert(content, record.epoch);
        break;
      case ContentType.ApplicationData:
        if (record.epoch > 0 && this.phase === 'established') {
          this.lastFlight = undefined; // the server has our Finished: nothing left to resend
          this.io.deliver(Buffer.from(content));
        }
        break;
      default:
        this.stats.recordsDroppedMalformed++;
    }
  }

  private onAlert(content: Buffer, epoch: number): void {
    if (content.length !== 2) return;
    // An unprotected alert cannot end a protected session: anyone could forge it.
    if (epoch === 0 && this.readEpoch > 0) return;
    this.stats.alertsReceived++;
    const [level, description] = content;
    if (description === AlertDescription.CloseNotify) {
      const wasHandshaking = clientIsHandshaking(this.phase);
      if (!wasHandshaking) this.sendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
      this.closeWith('server sent close_notify', clientTransition(this.phase, 'CloseNotify'), wasHandshaking ? new DtlsHandshakeError('server closed during the handshake', description, true) : undefined);
    } else if (level === AlertLevel.Fatal) {
      const reason = `server sent fatal alert ${description}`;
      this.closeWith(reason, clientTransition(this.phase, 'FatalAlert'), new DtlsHandshakeError(reason, description, true));
    }
  }

  private onHandshakeRecord(content: Buffer, epoch: number): void {
    let fragments: HandshakeFragment[];
    try {
      fragments = parseHandshakeFragments(content);
    } catch {
      this.fail(AlertDescription.DecodeError, 'malformed handshake record');
      return;
    }
    for (const fragment of fragments) {
      if (this.phase === 'closed') return;
      if (fragment.msgType === HandshakeType.HelloVerifyRequest && epoch === 0) {
        this.onHelloVerifyRequest(fragment);
        continue;
      }
      if (fragment.msgType === HandshakeType.HelloRequest) {
        // HelloRequest is not part of the transcript and has its own numbering quirks.
        if (epoch > 0 || this.phase !== 'established') this.onEvent('HelloRequest');
        continue;
      }
      if (epoch === 0 && this.readEpoch > 0) {
        // Unprotected handshake data after the server switched keys can only be a
        // retransmission of its earlier flight: our answer to it was lost.
        if (fragment.messageSeq < this.peerFlightStartSeq) this.resendOnce();
        continue;
      }
      let result;
      try {
        result = this.inbox.add(fragment);
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
        const expectEpoch = message.msgType === HandshakeType.Finished ? 1 : 0;
        if (epoch !== expectEpoch) {
          this.fail(AlertDescription.UnexpectedMessage, `handshake message ${message.msgType} in epoch ${epoch}`);
          return;
        }
        this.onMessage(message);
      }
    }
  }

  /** RFC 6347 §4.2.4: a repeat of the server's previous flight means ours was lost. */
  private resendOnce(): void {
    if (this.resentForCurrentDatagram || !this.lastFlight) return;
    this.resentForCurrentDatagram = true;
    this.stats.retransmissions++;
    this.transmitFlight();
  }

  private onHelloVerifyRequest(fragment: HandshakeFragment): void {
    if (fragment.fragmentOffset !== 0 || fragment.body.length !== fragment.length) return;
    const t = clientTransition(this.phase, 'HelloVerifyRequest');
    if (t.kind !== 'advance') return;
    let cookie: Buffer;
    try {
      cookie = parseHelloVerifyRequest(fragment.body);
    } catch {
      this.fail(AlertDescription.DecodeError, 'malformed HelloVerifyRequest');
      return;
    }
    // The same cookie again answers a retransmitted hello: ours with it is already out.
    if (cookie.equals(this.cookie)) return;
    if (++this.helloVerifyCount > MAX_HELLO_VERIFY) {
      this.fail(AlertDescription.HandshakeFailure, 'too many HelloVerifyRequests');
      return;
    }
    this.cookie = cookie;
    this.inbox = new HandshakeInbox(fragment.messageSeq + 1);
    this.sendClientHello();
  }

  private onMessage(message: HandshakeMessage): void {
    let event: ClientEvent;
    let hello: ServerHello | undefined;
    if (message.msgType === HandshakeType.ServerHello) {
      try {
        hello = parseServerHello(message.body);
      } catch {
        this.fail(AlertDescription.DecodeError, 'malformed ServerHello');
        return;
      }
      event = this.classifyServerHello(hello);
    } else {
      event = eventFor(message.msgType);
    }
    this.onEvent(event, message, hello);
  }

  private classifyServerHello(hello: ServerHello): ClientEvent {
    const resume = this.config.resumeSession;
    if (resume && this.offeredSessionId.length > 0 && hello.sessionId.equals(this.offeredSessionId)) return 'ServerHelloResumed';
    return cipherSuiteById(hello.cipherSuite)?.keyExchange === 'psk' ? 'ServerHelloPsk' : 'ServerHelloEcdhe';
  }

  private onEvent(event: ClientEvent, message?: HandshakeMessage, hello?: ServerHello): void {
    const t = clientTransition(this.phase, event);
    switch (t.kind) {
      case 'ignore':
        return;
      case 'refuseRenegotiation':
        this.sendAlert(AlertLevel.Warning, AlertDescription.NoRenegotiation);
        return;
      case 'fail':
        this.fail(t.alert, `unexpected ${event} in ${this.phase}`);
        return;
      case 'advance':
        break;
    }
    const problem = this.perform(event, t.next, message, hello);
    if (problem) {
      this.fail(problem.alert, problem.reason);
      return;
    }
    if (this.phase === 'closed') return;
    this.phase = t.next;
    if (t.next === 'established') {
      this.cancelTimer();
      this.transcript = [];
      this.io.onEstablished();
    }
  }

  /** The effect of an accepted step; returns a reason to fail, if any. */
  private perform(event: ClientEvent, next: ClientPhase, message?: HandshakeMessage, hello?: ServerHello): Problem {
    switch (event) {
      case 'ServerHelloPsk':
      case 'ServerHelloEcdhe':
      case 'ServerHelloResumed':
        return this.onServerHello(hello!, message!, event === 'ServerHelloResumed');
      case 'Certificate':
        return this.onServerCertificate(message!);
      case 'ServerKeyExchange':
        return this.onServerKeyExchange(message!);
      case 'CertificateRequest':
        return this.onCertificateRequest(message!);
      case 'ServerHelloDone':
        if (message!.body.length !== 0) return { alert: AlertDescription.DecodeError, reason: 'non-empty ServerHelloDone' };
        this.transcript.push(encodeHandshakeMessage(message!));
        return this.sendKeyExchangeFlight();
      case 'ChangeCipherSpec':
        this.readEpoch = 1;
        this.reads.set(1, { protection: this.pendingRead, window: new ReplayWindow() });
        return undefined;
      case 'Finished':
        return this.onServerFinished(message!, next);
      default:
        return undefined;
    }
  }

  private onServerHello(hello: ServerHello, message: HandshakeMessage, resumed: boolean): Problem {
    if (hello.version !== DTLS_1_2) return { alert: AlertDescription.ProtocolVersion, reason: `server chose version ${hello.version.toString(16)}` };
    if (!this.offeredSuites.includes(hello.cipherSuite)) return { alert: AlertDescription.IllegalParameter, reason: 'server chose a suite we did not offer' };
    if (hello.compression !== 0) return { alert: AlertDescription.IllegalParameter, reason: 'server chose compression' };
    for (const type of hello.extensions.keys()) {
      if (!this.offeredExtensions.some((e) => e.type === type)) return { alert: AlertDescription.UnsupportedExtension, reason: `unsolicited extension ${type}` };
    }
    const ext = hello.extensions;
    const renegotiation = ext.get(ExtensionType.RenegotiationInfo);
    if (renegotiation && !(renegotiation.length === 1 && renegotiation[0] === 0)) {
      return { alert: AlertDescription.HandshakeFailure, reason: 'non-empty renegotiation_info on a new connection' };
    }
    this.suite = cipherSuiteById(hello.cipherSuite)!;
    this.serverRandom = hello.random;
    this.sessionId = hello.sessionId;
    this.ems = ext.has(ExtensionType.ExtendedMasterSecret);
    try {
      const cid = ext.get(ExtensionType.ConnectionId);
      if (cid) {
        const value = Buffer.from(new ByteReader(cid).vec8());
        if (value.length > 0) this.peerCid = value;
      }
      const serverType = ext.get(ExtensionType.ServerCertificateType);
      if (serverType) this.serverCertKind = certKindOf(serverType);
      const clientType = ext.get(ExtensionType.ClientCertificateType);
      if (clientType) this.clientCertKind = certKindOf(clientType);
    } catch {
      return { alert: AlertDescription.IllegalParameter, reason: 'malformed ServerHello extension' };
    }
    this.transcript.push(encodeHandshakeMessage(this.clientHelloMessage!), encodeHandshakeMessage(message));
    if (resumed) {
      const session = this.config.resumeSession!;
      if (session.cipherSuite !== hello.cipherSuite) return { alert: AlertDescription.IllegalParameter, reason: 'resumed session with another cipher suite' };
      // RFC 7627 §5.3: a resumption must keep the session's extended-master-secret property.
      if (session.extendedMasterSecret !== this.ems) return { alert: AlertDescription.HandshakeFailure, reason: 'extended master secret changed on resumption' };
      this.resumed = true;
      this.master = session.masterSecret;
      this.deriveKeys();
    }
    return undefined;
  }

  private onServerCertificate(message: HandshakeMessage): Problem {
    let items: Buffer[];
    try {
      items = parseCertificate(this.serverCertKind, message.body);
    } catch {
      return { alert: AlertDescription.DecodeError, reason: 'malformed server Certificate' };
    }
    const check = checkServerCertificate(this.serverCertKind, items, this.ecdsa!, this.clock.now());
    if (!check.ok) return { alert: check.alert, reason: check.reason };
    this.serverPublicKey = check.publicKey;
    this.serverSubject = check.subjectCN;
    this.transcript.push(encodeHandshakeMessage(message));
    return undefined;
  }

  private onServerKeyExchange(message: HandshakeMessage): Problem {
    try {
      if (this.suite!.keyExchange === 'psk') {
        parsePskServerKeyExchange(message.body);
      } else {
        const ske = parseEcdheServerKeyExchange(message.body);
        if (ske.algorithm !== SIG_ECDSA_SHA256) return { alert: AlertDescription.IllegalParameter, reason: 'ServerKeyExchange signed with an algorithm we did not offer' };
        const signed = Buffer.concat([this.clientRandom, this.serverRandom!, ske.params]);
        if (!verify('sha256', signed, { key: this.serverPublicKey!, dsaEncoding: 'der' }, ske.signature)) {
          return { alert: AlertDescription.DecryptError, reason: 'ServerKeyExchange signature invalid' };
        }
        this.serverPoint = ske.publicPoint;
      }
    } catch {
      return { alert: AlertDescription.DecodeError, reason: 'malformed ServerKeyExchange' };
    }
    this.transcript.push(encodeHandshakeMessage(message));
    return undefined;
  }

  private onCertificateRequest(message: HandshakeMessage): Problem {
    try {
      parseCertificateRequest(message.body);
    } catch {
      return { alert: AlertDescription.DecodeError, reason: 'malformed CertificateRequest' };
    }
    this.certificateRequested = true;
    this.transcript.push(encodeHandshakeMessage(message));
    return undefined;
  }

  /** [Certificate] ClientKeyExchange [CertificateVerify] ChangeCipherSpec Finished. */
  private sendKeyExchangeFlight(): Problem {
    const flight: FlightEntry[] = [];
    const add = (msgType: number, body: Buffer, epoch = 0): void => {
      flight.push({ kind: 'handshake', epoch, message: this.nextMessage(msgType, body) });
    };
    let signWithOurKey = false;
    if (this.certificateRequested) {
      const creds = this.ecdsa!;
      const items = this.clientCertKind === 'rpk' ? [creds.spkiDer] : creds.chainDer;
      // Without a certificate of the requested kind we send an empty one; the server decides.
      const usable = this.clientCertKind === 'rpk' ? creds.kind === 'rpk' : creds.chainDer.length > 0;
      add(HandshakeType.Certificate, usable ? encodeCertificate(this.clientCertKind, items) : encodeCertificate('x509', []));
      signWithOurKey = usable;
    }
    let premaster: Buffer;
    if (this.suite!.keyExchange === 'psk') {
      const psk = this.config.psk!;
      add(HandshakeType.ClientKeyExchange, encodePskClientKeyExchange(psk.identity));
      premaster = pskPremaster(psk.key);
    } else {
      const ecdh = createECDH('prime256v1');
      const point = ecdh.generateKeys();
      try {
        premaster = ecdh.computeSecret(this.serverPoint!);
      } catch {
        return { alert: AlertDescription.IllegalParameter, reason: 'server ECDHE point is not on P-256' };
      }
      add(HandshakeType.ClientKeyExchange, encodeEcdheClientKeyExchange(point));
    }
    this.master = masterSecret({
      premaster,
      clientRandom: this.clientRandom,
      serverRandom: this.serverRandom!,
      ...(this.ems ? { sessionHash: this.transcriptHash() } : {}),
    });
    this.deriveKeys();
    if (signWithOurKey) {
      const signature = sign('sha256', Buffer.concat(this.transcript), { key: this.ecdsa!.privateKey, dsaEncoding: 'der' });
      add(HandshakeType.CertificateVerify, encodeCertificateVerify(SIG_ECDSA_SHA256, signature));
    }
    flight.push({ kind: 'ccs' });
    this.switchWriteEpoch();
    add(HandshakeType.Finished, finishedVerifyData(this.master, 'client', this.transcriptHash()), 1);
    this.sendNewFlight(flight, true);
    return undefined;
  }

  private onServerFinished(message: HandshakeMessage, next: ClientPhase): Problem {
    const expected = finishedVerifyData(this.master!, 'server', this.transcriptHash());
    if (message.body.length !== expected.length || !timingSafeEqual(message.body, expected)) {
      return { alert: AlertDescription.DecryptError, reason: 'server Finished verify_data mismatch' };
    }
    this.transcript.push(encodeHandshakeMessage(message));
    if (this.resumed && next === 'established') {
      // Abbreviated handshake: our Finished goes last, and is resent if the server repeats its flight.
      this.switchWriteEpoch();
      const finished = this.nextMessage(HandshakeType.Finished, finishedVerifyData(this.master!, 'client', this.transcriptHash()));
      this.sendNewFlight([{ kind: 'ccs' }, { kind: 'handshake', epoch: 1, message: finished }], false);
    } else {
      this.lastFlight = undefined;
    }
    return undefined;
  }

  private switchWriteEpoch(): void {
    this.writes.set(1, { protection: this.pendingWrite, sequence: 0 });
    this.writeEpoch = 1;
  }

  private deriveKeys(): void {
    const block = keyBlock(this.master!, this.clientRandom, this.serverRandom!, keyBlockLength(this.suite!));
    const keys = splitKeyBlock(this.suite!, block);
    this.pendingRead = createRecordProtection(this.suite!, keys.server);
    this.pendingWrite = createRecordProtection(this.suite!, keys.client);
  }

  private transcriptHash(): Buffer {
    return sha256(Buffer.concat(this.transcript));
  }

  private fail(alert: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.sendAlert(AlertLevel.Fatal, alert);
    this.closeWith(reason, { kind: 'advance', next: 'closed' }, new DtlsHandshakeError(reason, alert));
  }

  private closeWith(reason: string, t: ClientTransition, error?: DtlsHandshakeError): void {
    if (t.kind !== 'advance' || t.next !== 'closed') return;
    this.phase = 'closed';
    this.cancelTimer();
    this.lastFlight = undefined;
    this.io.onClosed(reason, error);
  }
}

function certKindOf(data: Buffer): CertKind {
  if (data.length !== 1) throw new Error('certificate type extension must carry one type in a ServerHello');
  if (data[0] === CertificateType.RawPublicKey) return 'rpk';
  if (data[0] === CertificateType.X509) return 'x509';
  throw new Error(`unknown certificate type ${data[0]}`);
}

function eventFor(msgType: number): ClientEvent {
  switch (msgType) {
    case HandshakeType.Certificate:
      return 'Certificate';
    case HandshakeType.ServerKeyExchange:
      return 'ServerKeyExchange';
    case HandshakeType.CertificateRequest:
      return 'CertificateRequest';
    case HandshakeType.ServerHelloDone:
      return 'ServerHelloDone';
    case HandshakeType.Finished:
      return 'Finished';
    default:
      return 'OtherHandshake';
  }
}
