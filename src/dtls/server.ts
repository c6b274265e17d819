/**
 * The DTLS server without a socket: datagrams in (handleDatagram), datagrams out
 * (io.sendDatagram), application data up (io.deliver). Owns session lookup by address and
 * by Connection ID, the stateless cookie exchange, limits, the resumption cache and stats.
 */
import { randomBytes } from 'node:crypto';
import { peerKey } from '../coap/peer-key.js';
import type { RemoteAddress } from '../coap/types.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { DtlsConnection, type ConnectionContext } from './connection.js';
import { DEFAULT_LIMITS, emptyStats, type DtlsEcdsaConfig, type DtlsEvent, type DtlsLimits, type DtlsPeerIdentity, type DtlsPskConfig, type DtlsStats } from './config.js';
import { AlertLevel, ContentType, DTLS_1_2, HandshakeType } from './constants.js';
import { CookieFactory } from './cookie.js';
import { loadEcdsaCredentials, type EcdsaCredentials } from './credentials.js';
import { encodeHandshakeFragment, parseHandshakeFragments, type HandshakeMessage } from './handshake-framing.js';
import { encodeHelloVerifyRequest, parseClientHello, type ClientHello } from './hello-messages.js';
import { negotiate } from './negotiation.js';
import { PerIpRateLimiter } from './rate-limiter.js';
import { encodeRecord, parseRecords, type DtlsRecord } from './record.js';
import { SessionCache } from './session-cache.js';

export interface DtlsServerOptions {
  psk?: DtlsPskConfig;
  ecdsa?: DtlsEcdsaConfig;
  clock?: Clock;
  limits?: Partial<DtlsLimits>;
}

export interface DtlsServerIo {
  sendDatagram(datagram: Buffer, remote: RemoteAddress): void;
  deliver(data: Buffer, remote: RemoteAddress): void;
}

/** Shared by every session without a Connection ID (never written to). */
const NO_CID = Buffer.alloc(0);

/** Sessions by address cost no string per datagram: an IPv4 peer's key is one number. */
const keyOf = peerKey;

/** A Connection ID of up to 6 bytes is its own number; longer ones fall back to hex. */
const cidKey = (cid: Buffer): number | string => (cid.length <= 6 ? (cid.length === 0 ? -1 : cid.readUIntBE(0, cid.length) + cid.length * 2 ** 48) : cid.toString('hex'));

export class DtlsServer {
  readonly limits: DtlsLimits;
  private readonly clock: Clock;
  private readonly counters = emptyStats();
  private readonly cookies: CookieFactory;
  private readonly ecdsa?: EcdsaCredentials;
  private readonly byAddress = new Map<number | string, DtlsConnection>();
  private readonly byCid = new Map<number | string, DtlsConnection>();
  private readonly cache: SessionCache;
  private readonly rateLimiter: PerIpRateLimiter;
  private readonly ctx: ConnectionContext;
  private readonly eventHandlers: Array<(e: DtlsEvent) => void> = [];
  private readonly addressHandlers: Array<(oldRemote: RemoteAddress, newRemote: RemoteAddress) => void> = [];
  private sweepTimer?: TimerHandle;
  private closed = false;

  constructor(private readonly options: DtlsServerOptions, private readonly io: DtlsServerIo) {
    if (!options.psk && !options.ecdsa) throw new Error('DTLS server needs psk or ecdsa credentials');
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.clock = options.clock ?? systemClock;
    this.cookies = new CookieFactory(this.clock);
    this.ecdsa = options.ecdsa ? loadEcdsaCredentials(options.ecdsa) : undefined;
    this.cache = new SessionCache(this.limits.sessionCacheSize);
    this.rateLimiter = new PerIpRateLimiter(this.limits.handshakeBurstPerIp, this.limits.handshakesPerIpPerSecond);
    this.ctx = {
      clock: this.clock,
      limits: this.limits,
      stats: this.counters,
      psk: options.psk,
      ecdsa: this.ecdsa,
      sendDatagram: (d, r) => this.io.sendDatagram(d, r),
      deliver: (d, r) => this.io.deliver(d, r),
      emit: (e) => this.emit(e),
      onEstablished: (c) => this.onEstablished(c),
      onClosed: (c) => this.forget(c),
      onAddressChange: (c, from) => this.moveSession(c, from),
    };
    this.scheduleSweep();
  }

  onEvent(handler: (e: DtlsEvent) => void): void {
    this.eventHandlers.push(handler);
  }

  onAddressChange(handler: (oldRemote: RemoteAddress, newRemote: RemoteAddress) => void): void {
    this.addressHandlers.push(handler);
  }

  handleDatagram(datagram: Buffer, from: RemoteAddress): void {
    if (this.closed) return;
    try {
      this.handleRecords(datagram, from);
    } catch {
      // A bug or a throwing application callback must not take the socket down with it.
      this.counters.internalErrors++;
    }
  }

  private handleRecords(datagram: Buffer, from: RemoteAddress): void {
    const { records, malformed } = parseRecords(datagram, this.limits.cidLength);
    this.counters.recordsDroppedMalformed += malformed;
    // Almost every datagram is one record for one session: remember the last few sessions
    // begun instead of allocating a set per datagram.
    let first: DtlsConnection | undefined;
    let others: DtlsConnection[] | undefined;
    for (const record of records) {
      const connection = this.route(record, from);
      if (!connection) continue;
      if (connection !== first && !others?.includes(connection)) {
        if (!first) first = connection;
        else (others ??= []).push(connection);
        connection.beginDatagram();
      }
      connection.handleRecord(record, from);
    }
  }

  /** Finds the session a record belongs to, or handles it statelessly (ClientHello). */
  private route(record: DtlsRecord, from: RemoteAddress): DtlsConnection | undefined {
    if (record.type === ContentType.Tls12Cid) {
      const byCid = this.byCid.get(cidKey(record.cid!));
      if (!byCid) this.counters.recordsDroppedNoSession++;
      return byCid;
    }
    const existing = this.byAddress.get(keyOf(from));
    if (record.epoch === 0 && record.type === ContentType.Handshake) {
      const hello = this.peekClientHello(record);
      if (hello && (!existing || !existing.clientRandom.equals(hello.hello.random))) {
        this.onFreshClientHello(record, hello, from, existing);
        return undefined;
      }
    }
    if (!existing) this.counters.recordsDroppedNoSession++;
    return existing;
  }

  /** A ClientHello that starts something new; undefined for anything else. */
  private peekClientHello(record: DtlsRecord): { hello: ClientHello; message: HandshakeMessage } | undefined {
    try {
      const fragments = parseHandshakeFragments(record.fragment);
      const f = fragments[0];
      // A ClientHello is small; we do not reassemble one statelessly.
      if (fragments.length !== 1 || f.msgType !== HandshakeType.ClientHello || f.fragmentOffset !== 0 || f.body.length !== f.length) return undefined;
      return { hello: parseClientHello(f.body), message: { msgType: f.msgType, messageSeq: f.messageSeq, body: Buffer.from(f.body) } };
    } catch {
      this.counters.recordsDroppedMalformed++;
      return undefined;
    }
  }

  private onFreshClientHello(record: DtlsRecord, ch: { hello: ClientHello; message: HandshakeMessage }, from: RemoteAddress, existing: DtlsConnection | undefined): void {
    const { hello, message } = ch;
    if (!this.cookies.verify(hello.cookie, from.address, from.port, hello.cookieBinding)) {
      // Stateless: answer with a cookie and forget. The reply reuses the client's record
      // sequence number (RFC 6347 §4.2.1) and is smaller than the hello (no amplification).
      const cookie = this.cookies.make(from.address, from.port, hello.cookieBinding);
      const body = encodeHelloVerifyRequest(cookie);
      const fragment = encodeHandshakeFragment({ msgType: HandshakeType.HelloVerifyRequest, length: body.length, messageSeq: message.messageSeq, fragmentOffset: 0, body });
      this.counters.helloVerifyRequestsSent++;
      this.io.sendDatagram(encodeRecord({ type: ContentType.Handshake, version: DTLS_1_2, epoch: 0, sequence: record.sequence, fragment }), from);
      return;
    }
    // The client proved it owns the address. A new hello from the same address replaces the
    // old session only now (RFC 6347 §4.2.8), never on an unverified hello.
    const handshaking = this.countHandshaking() - (existing && !existing.established ? 1 : 0);
    const sessions = this.byAddress.size - (existing ? 1 : 0);
    if (handshaking >= this.limits.maxHandshakesInProgress || sessions >= this.limits.maxSessions || !this.rateLimiter.tryTake(from.address, this.clock.now())) {
      this.counters.handshakesRejectedByLimit++;
      return;
    }
    const result = negotiate(hello, { psk: this.options.psk !== undefined, ecdsa: this.ecdsa, cid: this.limits.cidLength > 0 });
    if (!result.ok) {
      this.counters.handshakesFailed++;
      this.counters.alertsSent++;
      this.io.sendDatagram(
        encodeRecord({ type: ContentType.Alert, version: DTLS_1_2, epoch: 0, sequence: record.sequence, fragment: Buffer.from([AlertLevel.Fatal, result.alert]) }),
        from,
      );
      this.emit({ kind: 'handshakeFailed', remote: { ...from }, reason: result.reason, alert: result.alert });
      return;
    }
    if (existing) existing.close('replaced by a new handshake from the same address', true);
    const resume = this.resumable(hello, result.value.extendedMasterSecret);
    const ownCid = result.value.peerCid !== undefined ? this.newCid() : NO_CID;
    this.counters.handshakesStarted++;
    const connection = new DtlsConnection(this.ctx, { ...from }, {
      hello, helloMessage: message, helloRecordSequence: record.sequence, negotiated: result.value, ownCid, ...(resume ? { resume } : {}),
    });
    if (connection.phase === 'closed') return;
    this.byAddress.set(keyOf(from), connection);
    if (ownCid.length > 0) this.byCid.set(cidKey(ownCid), connection);
  }

  private resumable(hello: ClientHello, ems: boolean) {
    if (hello.sessionId.length === 0) return undefined;
    const cached = this.cache.get(hello.sessionId);
    // RFC 7627 §5.3: never resume across a change in extended-master-secret use.
    if (!cached || !hello.cipherSuites.includes(cached.suite.id) || cached.extendedMasterSecret !== ems) return undefined;
    return cached;
  }

  private newCid(): Buffer {
    for (;;) {
      const cid = randomBytes(this.limits.cidLength);
      if (!this.byCid.has(cidKey(cid))) return cid;
    }
  }

  private countHandshaking(): number {
    let n = 0;
    for (const c of this.byAddress.values()) if (!c.established) n++;
    return n;
  }

  private onEstablished(c: DtlsConnection): void {
    this.counters.handshakesCompleted++;
    if (c.wasResumed) this.counters.resumptions++;
    const resumable = c.resumable();
    if (resumable) this.cache.put(resumable);
    this.emit({ kind: 'handshakeCompleted', remote: { ...c.remote }, ...(c.identity ? { identity: c.identity } : {}), cipherSuite: c.suite.name, resumed: c.wasResumed });
  }

  private forget(c: DtlsConnection): void {
    const key = keyOf(c.remote);
    if (this.byAddress.get(key) === c) this.byAddress.delete(key);
    if (c.ownCid.length > 0 && this.byCid.get(cidKey(c.ownCid)) === c) this.byCid.delete(cidKey(c.ownCid));
  }

  private moveSession(c: DtlsConnection, to: RemoteAddress): void {
    const old = { ...c.remote };
    const displaced = this.byAddress.get(keyOf(to));
    if (displaced && displaced !== c) displaced.close('address taken over by a Connection ID session', true);
    if (this.byAddress.get(keyOf(old)) === c) this.byAddress.delete(keyOf(old));
    c.remote = { ...to };
    this.byAddress.set(keyOf(to), c);
    this.counters.addressChanges++;
    for (const h of this.addressHandlers) h(old, { ...to });
  }

  private emit(e: DtlsEvent): void {
    for (const h of this.eventHandlers) h(e);
  }

  /** One periodic sweep (not a timer per session) drops idle sessions. */
  private scheduleSweep(): void {
    const every = Math.max(1000, Math.min(60_000, Math.floor(this.limits.idleTimeoutMs / 4)));
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepIdle();
      if (!this.closed) this.scheduleSweep();
    }, every);
  }

  sweepIdle(): void {
    const now = this.clock.now();
    for (const c of [...this.byAddress.values()]) {
      if (now - c.lastActivity >= this.limits.idleTimeoutMs) {
        this.counters.sessionsEvictedIdle++;
        c.close('idle', !c.established);
      }
    }
    this.rateLimiter.prune(now);
  }

  /** Encrypts application data to the peer's session; false when there is none. */
  send(data: Buffer, remote: RemoteAddress): boolean {
    const c = this.byAddress.get(keyOf(remote));
    return c ? c.sendApplicationData(data) : false;
  }

  peerIdentity(remote: RemoteAddress): DtlsPeerIdentity | undefined {
    const c = this.byAddress.get(keyOf(remote));
    return c?.established ? c.identity : undefined;
  }

  stats(): DtlsStats {
    let handshaking = 0;
    for (const c of this.byAddress.values()) if (!c.established) handshaking++;
    return { ...this.counters, sessions: this.byAddress.size, handshakesInProgress: handshaking };
  }

  /** Sends close_notify to every session and stops timers. */
  close(): void {
    if (this.closed) return;
    for (const c of [...this.byAddress.values()]) c.close('server closing', !c.established);
    this.closed = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
  }
}
