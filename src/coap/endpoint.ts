/**
 * One CoAP endpoint on one datagram transport, in both roles: it serves requests (server
 * role: de-duplication, piggybacked/separate responses, Block1 reassembly, Block2 serving)
 * and sends requests (client role: tokens, CON retransmission, block-wise, observe).
 *
 * Layers, bottom up: codec → de-duplication (by remote + message ID) → reliability
 * (OutgoingState machine) → exchange matching (by remote + token) → block-wise → observe.
 */
import { silentLogger, type Logger } from '../util/logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { CoapFormatError, parseMessage, serializeLocationResponse, serializeMessage } from './codec.js';
import {
  blockSize,
  encodeBlock,
  encodeUint,
  firstUnknownCriticalOption,
  getBlockOption,
  getOption,
  getUintOption,
  hasOption,
  stringOptions,
  uriPath,
  uriQuery,
} from './options.js';
import { nextOutgoing, nextServerExchange, type OutgoingEvent, type OutgoingState, type ServerExchangeEvent, type ServerExchangeState } from './exchange-state.js';
import { DedupCache, type DedupKey } from './dedup-cache.js';
import { TimerQueue, type Deadline } from './timer-queue.js';
import { Block1Assembler } from './block1-assembler.js';
import { Block2Cache, type CachedBody } from './block2-cache.js';
import { GenerationalMap } from './generational-map.js';
import { ACK_TYPE, NON_TYPE, block2Prefix, serializeBlock2, type Block2Prefix } from './block2-response.js';
import { completeBlock2, performTransfer, randomToken, type ExchangeSpec, type TransferContext } from './client-transfer.js';
import { isFreshNotification } from './observe-freshness.js';
import {
  CoapCode,
  CoapOptionNumber,
  CoapResetError,
  CoapResponseError,
  CoapTimeoutError,
  codeClass,
  peerSecurityOf,
  type BlockOption,
  type CoapMessage,
  type CoapMessageType,
  type CoapMethod,
  type CoapOption,
  type DatagramTransport,
  type IncomingRequest,
  type IncomingResponse,
  type NotificationHandler,
  type Observation,
  type OutgoingRequest,
  type OutgoingResponse,
  type PeerSecurity,
  type RemoteAddress,
  type RequestHandler,
} from './types.js';

export interface CoapEndpointOptions {
  transport: DatagramTransport;
  clock?: Clock;
  logger?: Logger;
  /** Block1 reassembly / request body limit (default 1 MiB); over it → 4.13 + Size1. */
  maxBodyBytes?: number;
  /** Our Block2 serving size and Block1 sending size exponent (default 6 = 1024 bytes). */
  preferredBlockSzx?: number;
  /** De-duplication lifetime (default EXCHANGE_LIFETIME, 247 s). */
  exchangeLifetimeMs?: number;
  /** ACK_TIMEOUT (default 2000 ms); the first wait is random in [t, 1.5 t], doubled each time. */
  ackTimeoutMs?: number;
  /** MAX_RETRANSMIT (default 4). */
  maxRetransmit?: number;
  /** For the ack-timeout jitter, so tests are deterministic. */
  random?: () => number;
  /** How long a handler may take before we send an empty ACK and respond separately (default 1000 ms). */
  separateResponseDelayMs?: number;
}

export interface NotifyOptions {
  /** Default false (NON), as LwM2M devices usually notify. */
  confirmable?: boolean;
  /** The observed resource: lets a large notification's blocks 1..n be served from cache. */
  path?: string[];
  query?: string[];
}

/** One Block2 block of a large response as it leaves (see CoapEndpoint.onBlock2Served). */
export interface Block2Served {
  /** The handler's response object the block was cut from (the same object for every block of a cached body). */
  response: OutgoingResponse;
  num: number;
  szx: number;
  /** Bytes of the body up to and including this block. */
  bytesThrough: number;
  total: number;
}

export interface CoapEndpointStats {
  received: number;
  sent: number;
  duplicates: number;
  retransmissions: number;
  malformed: number;
  requestsHandled: number;
  handlerErrors: number;
  timeouts: number;
  resets: number;
  notificationsDelivered: number;
  staleNotifications: number;
  unmatchedResponses: number;
  pendingExchanges: number;
  observations: number;
  block1Uploads: number;
  block2Bodies: number;
}

const EMPTY = Buffer.alloc(0);
const ACK_RANDOM_FACTOR = 1.5;
const METHODS: Record<number, CoapMethod> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };

/** One message we sent and are waiting on (see OutgoingState). */
interface Pending {
  state: OutgoingState;
  remote: RemoteAddress;
  midKey: string;
  tokenKey: string | undefined;
  bytes: Buffer;
  retransmissions: number;
  timeoutMs: number;
  retransmit: Deadline | undefined;
  noProgress: Deadline | undefined;
  resolve: (msg: CoapMessage) => void;
  reject: (err: Error) => void;
}

/** A CON request whose handler is still running (see ServerExchangeState). */
interface ServerExchange {
  state: ServerExchangeState;
  remote: RemoteAddress;
  request: CoapMessage;
  dedupKey: DedupKey;
  ackDelay: Deadline | undefined;
}

interface ObservationState {
  remote: RemoteAddress;
  request: OutgoingRequest;
  onNotification: NotificationHandler;
  established: boolean;
  lastSequence: number;
  lastAt: number;
}

/** A response from a peer (separate, or a notification) that was taken: the ACK or RST to send again for a duplicate, or null (it was NON). */
interface SeenResponse {
  readonly reply: Buffer | null;
}

/**
 * What the de-duplication cache remembers per (remote, message ID): for a request, our
 * answer (bytes), the exchange still being handled, or null (a NON still being handled);
 * for a response the peer sent us, a SeenResponse.
 */
type DedupEntry = Buffer | ServerExchange | SeenResponse | null;

export class CoapEndpoint {
  private readonly transport: DatagramTransport;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;
  private readonly preferredSzx: number;
  private readonly ackTimeoutMs: number;
  private readonly maxRetransmit: number;
  private readonly random: () => number;
  private readonly separateResponseDelayMs: number;
  private readonly defaultTimeoutMs: number;

  private handler: RequestHandler = () => ({ code: CoapCode.NotFound });
  private block2Served: ((served: Block2Served) => void) | undefined;
  /** Per cached body, its options before Block2 serialized once (null: it has options after Block2). */
  private readonly block2Prefixes = new WeakMap<CachedBody, Block2Prefix | null>();
  private unknownNotificationHandler: (n: IncomingResponse) => 'keep' | 'reject' = () => 'reject';
  private readonly dedup: DedupCache<DedupEntry>;
  private readonly timers: TimerQueue;
  private readonly block1: Block1Assembler;
  private readonly block2: Block2Cache;
  /**
   * Per peer, the Block2 key of the body it fetched last: a pull asks for the same path block
   * after block, and building that key (address, port, identity, path and query joined into a
   * fresh string, then hashed by the cache's Map) for every block was measurable on a server
   * feeding a thousand devices. The remembered string keeps its hash; the cache itself still
   * decides whether the body is there.
   */
  private readonly block2Keys: GenerationalMap<number | string, Block2KeyMemo>;
  private readonly pendingByMid = new Map<string, Pending>();
  private readonly pendingByToken = new Map<string, Pending>();
  private readonly observations = new Map<string, ObservationState>();
  private readonly tokensInUse = new Set<string>();
  private nextMessageId: number;
  private closed = false;
  private readonly counters = {
    received: 0,
    sent: 0,
    duplicates: 0,
    retransmissions: 0,
    malformed: 0,
    requestsHandled: 0,
    handlerErrors: 0,
    timeouts: 0,
    resets: 0,
    notificationsDelivered: 0,
    staleNotifications: 0,
    unmatchedResponses: 0,
  };

  constructor(options: CoapEndpointOptions) {
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.preferredSzx = Math.max(0, Math.min(6, options.preferredBlockSzx ?? 6));
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    this.maxRetransmit = options.maxRetransmit ?? 4;
    this.random = options.random ?? Math.random;
    this.separateResponseDelayMs = options.separateResponseDelayMs ?? 1000;
    // MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2): the whole retransmission budget of one CON.
    this.defaultTimeoutMs = Math.ceil(this.ackTimeoutMs * (2 ** (this.maxRetransmit + 1) - 1) * ACK_RANDOM_FACTOR);
    const lifetime = options.exchangeLifetimeMs ?? 247_000;
    this.dedup = new DedupCache(this.clock, lifetime);
    this.timers = new TimerQueue(this.clock);
    this.block1 = new Block1Assembler(this.clock, lifetime, this.maxBodyBytes, this.preferredSzx);
    this.block2 = new Block2Cache(this.clock, lifetime);
    this.block2Keys = new GenerationalMap(this.clock, lifetime);
    this.nextMessageId = Math.floor(this.random() * 0x10000) & 0xffff;
    this.transport.onDatagram((datagram, remote) => this.onDatagram(datagram, remote));
  }

  setRequestHandler(handler: RequestHandler): void {
    this.handler = handler;
  }

  /**
   * Called for every Block2 block we send, including blocks 1..n served from the cache
   * without asking the request handler again (so a host can follow a download's progress).
   * Runs on the hot path: keep it cheap.
   */
  onBlock2Served(listener: ((served: Block2Served) => void) | undefined): void {
    this.block2Served = listener;
  }

  /**
   * Drops the cached bodies (blocks 1..n of large responses) whose response `test` accepts:
   * their next block GET goes to the handler again instead of being served from the cache.
   * For a resource that must stop being served at once (a withdrawn firmware image); returns
   * how many bodies were dropped.
   */
  forgetBlock2Bodies(test: (response: OutgoingResponse) => boolean): number {
    return this.block2.forget(test);
  }

  /** For observations restored after a restart: 'keep' ACKs such a notification, 'reject' (default) answers RST. */
  onUnknownNotification(handler: (n: IncomingResponse) => 'keep' | 'reject'): void {
    this.unknownNotificationHandler = handler;
  }

  address(): RemoteAddress {
    return this.transport.address();
  }

  /** The authenticated peer at `remote` (DTLS transports only), for the request handler's access checks. */
  private peerSecurity(remote: RemoteAddress): PeerSecurity | undefined {
    const peer = this.transport.peerIdentity?.(remote);
    return peer === undefined ? undefined : peerSecurityOf(peer);
  }

  stats(): CoapEndpointStats {
    return {
      ...this.counters,
      pendingExchanges: this.pendingByToken.size,
      observations: this.observations.size,
      block1Uploads: this.block1.size,
      block2Bodies: this.block2.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = new Set([...this.pendingByMid.values(), ...this.pendingByToken.values()]);
    for (const p of pending) this.advance(p, { kind: 'closed' });
    this.timers.clear();
    this.observations.clear();
    this.dedup.clear();
    await this.transport.close();
  }

  // ───────────────────────────── client role ─────────────────────────────

  async request(remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse> {
    return this.withToken(async (token) => {
      const result = await performTransfer(this.transferContext(remote), req, token);
      return this.toIncomingResponse(remote, result.message, result.payload);
    });
  }

  async observe(remote: RemoteAddress, req: OutgoingRequest, onNotification: NotificationHandler): Promise<Observation> {
    this.assertOpen();
    const token = this.allocateToken();
    const key = tokenKey(remote, token);
    const options = (req.options ?? []).filter((o) => o.number !== CoapOptionNumber.Observe);
    const observeRequest: OutgoingRequest = { ...req, options: [...options, { number: CoapOptionNumber.Observe, value: EMPTY }] };
    // Registered before sending so an early notification is ACKed, not reset.
    const state: ObservationState = { remote, request: req, onNotification, established: false, lastSequence: 0, lastAt: 0 };
    this.observations.set(key, state);
    let first: IncomingResponse;
    try {
      const result = await performTransfer(this.transferContext(remote), observeRequest, token);
      first = this.toIncomingResponse(remote, result.message, result.payload);
    } catch (err) {
      this.forgetObservation(key, token);
      throw err;
    }
    if (codeClass(first.code) !== 2) {
      this.forgetObservation(key, token);
      throw new CoapResponseError(first);
    }
    if (first.observe === undefined || this.closed) {
      // The peer answered as a plain read: nothing will ever be notified.
      this.forgetObservation(key, token);
      return { token, first, cancel: async () => {} };
    }
    state.established = true;
    state.lastSequence = first.observe;
    state.lastAt = this.clock.now();
    return { token, first, cancel: () => this.cancelObservation(remote, req, token) };
  }

  /**
   * Server role of RFC 7641: sends a notification (a response carrying the observer's token;
   * put the Observe sequence number in `response.options`). A CON notification resolves when
   * ACKed and rejects with CoapResetError when the observer answers RST (it is gone).
   */
  notify(remote: RemoteAddress, token: Buffer, response: OutgoingResponse, opts: NotifyOptions = {}): Promise<void> {
    this.assertOpen();
    const cacheKey = opts.path ? block2Key(remote, this.peerSecurity(remote), opts.path, opts.query ?? []) : undefined;
    const shaped = this.shapeResponse(response, undefined, undefined, cacheKey);
    const type: CoapMessageType = opts.confirmable ? 'CON' : 'NON';
    const msg: CoapMessage = { type, code: response.code, messageId: this.allocateMessageId(), token, options: shaped.options, payload: shaped.payload };
    if (type === 'NON') {
      this.send(serializeMessage(msg), remote);
      return Promise.resolve();
    }
    return this.transmit(remote, msg, undefined, this.defaultTimeoutMs).then(() => undefined);
  }

  private async cancelObservation(remote: RemoteAddress, req: OutgoingRequest, token: Buffer): Promise<void> {
    const key = tokenKey(remote, token);
    if (!this.observations.delete(key)) return;
    const options = (req.options ?? []).filter((o) => o.number !== CoapOptionNumber.Observe);
    try {
      await performTransfer(this.transferContext(remote), { ...req, method: 'GET', payload: undefined, options: [...options, { number: CoapOptionNumber.Observe, value: encodeUint(1) }] }, token);
    } catch (err) {
      // A RST also ends the observation on the peer's side.
      if (!(err instanceof CoapResetError)) throw err;
    } finally {
      this.tokensInUse.delete(token.toString('hex'));
    }
  }

  private forgetObservation(key: string, token: Buffer): void {
    this.observations.delete(key);
    this.tokensInUse.delete(token.toString('hex'));
  }

  private transferContext(remote: RemoteAddress): TransferContext {
    return {
      exchange: (spec, timeoutMs) => this.exchange(remote, spec, timeoutMs),
      withFreshToken: (use) => this.withToken(use),
      preferredSzx: this.preferredSzx,
      defaultTimeoutMs: this.defaultTimeoutMs,
    };
  }

  private async withToken<T>(use: (token: Buffer) => Promise<T>): Promise<T> {
    this.assertOpen();
    const token = this.allocateToken();
    try {
      return await use(token);
    } finally {
      this.tokensInUse.delete(token.toString('hex'));
    }
  }

  private exchange(remote: RemoteAddress, spec: ExchangeSpec, timeoutMs: number): Promise<CoapMessage> {
    if (this.closed) return Promise.reject(new Error('endpoint closed'));
    const msg: CoapMessage = {
      type: spec.confirmable ? 'CON' : 'NON',
      code: spec.code,
      messageId: this.allocateMessageId(),
      token: spec.token,
      options: spec.options,
      payload: spec.payload,
    };
    return this.transmit(remote, msg, tokenKey(remote, spec.token), timeoutMs);
  }

  /**
   * Sends `msg` and tracks it: CON until ACKed (retransmitting), and, with a tokenKey, until
   * the matching response. Resolves with the response (or the ACK when none is expected).
   */
  private transmit(remote: RemoteAddress, msg: CoapMessage, tokenKeyValue: string | undefined, noProgressMs: number): Promise<CoapMessage> {
    const bytes = serializeMessage(msg);
    return new Promise<CoapMessage>((resolve, reject) => {
      const confirmable = msg.type === 'CON';
      const p: Pending = {
        state: confirmable ? (tokenKeyValue ? 'awaiting-ack' : 'awaiting-ack-only') : 'awaiting-response',
        remote,
        midKey: midKey(remote, msg.messageId),
        tokenKey: tokenKeyValue,
        bytes,
        retransmissions: 0,
        timeoutMs: this.ackTimeoutMs * (1 + this.random() * (ACK_RANDOM_FACTOR - 1)),
        retransmit: undefined,
        noProgress: undefined,
        resolve,
        reject,
      };
      if (confirmable) {
        this.pendingByMid.set(p.midKey, p);
        p.retransmit = this.timers.schedule(p.timeoutMs, () => this.onAckTimeout(p));
      }
      if (tokenKeyValue) {
        this.pendingByToken.set(tokenKeyValue, p);
        p.noProgress = this.timers.schedule(noProgressMs, () => this.advance(p, { kind: 'no-progress-timeout' }));
      }
      this.send(bytes, remote);
    });
  }

  private onAckTimeout(p: Pending): void {
    p.retransmit = undefined;
    this.advance(p, { kind: 'ack-timeout', retransmissions: p.retransmissions, maxRetransmit: this.maxRetransmit });
  }

  /** The one place a Pending changes state; `response` is given with a 'response' event. */
  private advance(p: Pending, event: OutgoingEvent, response?: CoapMessage): void {
    const { state, action } = nextOutgoing(p.state, event);
    p.state = state;
    switch (action) {
      case 'none':
        return;
      case 'retransmit':
        p.retransmissions++;
        p.timeoutMs *= 2;
        this.counters.retransmissions++;
        this.send(p.bytes, p.remote);
        p.retransmit = this.timers.schedule(p.timeoutMs, () => this.onAckTimeout(p));
        return;
      case 'stop-retransmitting':
        this.timers.cancel(p.retransmit);
        this.pendingByMid.delete(p.midKey);
        return;
      case 'deliver':
        this.finish(p);
        p.resolve(response!);
        return;
      case 'fail-timeout':
        this.finish(p);
        this.counters.timeouts++;
        p.reject(new CoapTimeoutError(`no response from ${p.remote.address}:${p.remote.port}` + (p.retransmissions > 0 ? ` after ${p.retransmissions + 1} transmissions` : '')));
        return;
      case 'fail-reset':
        this.finish(p);
        this.counters.resets++;
        p.reject(new CoapResetError(`${p.remote.address}:${p.remote.port} answered RST`));
        return;
      case 'fail-closed':
        this.finish(p);
        p.reject(new Error('endpoint closed'));
        return;
    }
  }

  private finish(p: Pending): void {
    this.timers.cancel(p.retransmit);
    this.timers.cancel(p.noProgress);
    if (this.pendingByMid.get(p.midKey) === p) this.pendingByMid.delete(p.midKey);
    if (p.tokenKey !== undefined && this.pendingByToken.get(p.tokenKey) === p) this.pendingByToken.delete(p.tokenKey);
  }

  // ───────────────────────────── receiving ─────────────────────────────

  private onDatagram(datagram: Buffer, remote: RemoteAddress): void {
    if (this.closed) return;
    this.counters.received++;
    let msg: CoapMessage;
    try {
      msg = parseMessage(datagram);
    } catch (err) {
      this.counters.malformed++;
      const format = err instanceof CoapFormatError ? err : undefined;
      this.logger.debug({ remote, reason: format?.reason ?? String(err) }, 'malformed CoAP datagram');
      if (format?.type === 'CON' && format.messageId !== undefined) this.sendEmpty('RST', format.messageId, remote);
      return;
    }
    try {
      this.dispatch(msg, remote);
    } catch (err) {
      this.logger.error({ err, remote }, 'CoAP message processing failed');
    }
  }

  private dispatch(msg: CoapMessage, remote: RemoteAddress): void {
    if (msg.code === CoapCode.Empty) {
      if (msg.type === 'CON') this.sendEmpty('RST', msg.messageId, remote); // CoAP ping
      else if (msg.type === 'ACK') this.onAckOrReset(msg, remote, { kind: 'empty-ack' });
      else if (msg.type === 'RST') this.onAckOrReset(msg, remote, { kind: 'reset' });
      return;
    }
    const cls = codeClass(msg.code);
    if (msg.type === 'RST') return; // RST must be empty: treat as malformed, ignore
    if (msg.type === 'ACK') {
      if (cls >= 2 && cls <= 5) this.onPiggybackedResponse(msg, remote);
      return;
    }
    // CON or NON: de-duplicate before any processing.
    const dedupKey = this.dedup.key(remote, msg.messageId);
    const seen = this.dedup.get(dedupKey);
    if (seen !== undefined && sameMessage(seen, msg, cls)) {
      this.counters.duplicates++;
      if (seen === null) return;
      if (Buffer.isBuffer(seen)) this.send(seen, remote);
      else if (isSeenResponse(seen)) {
        if (seen.reply) this.send(seen.reply, remote);
      } else this.advanceServerExchange(seen, 'duplicate');
      return;
    }
    if (cls === 0) this.onRequest(msg, remote, dedupKey);
    else if (cls >= 2 && cls <= 5) this.onSeparateResponse(msg, remote, dedupKey);
    else if (msg.type === 'CON') this.sendEmpty('RST', msg.messageId, remote);
  }

  private onAckOrReset(msg: CoapMessage, remote: RemoteAddress, event: OutgoingEvent): void {
    const p = this.pendingByMid.get(midKey(remote, msg.messageId));
    if (p !== undefined) this.advance(p, event);
  }

  private onPiggybackedResponse(msg: CoapMessage, remote: RemoteAddress): void {
    const p = this.pendingByMid.get(midKey(remote, msg.messageId));
    if (p === undefined || p.tokenKey !== tokenKey(remote, msg.token)) {
      this.counters.unmatchedResponses++;
      return;
    }
    this.advance(p, { kind: 'response' }, msg);
  }

  private onSeparateResponse(msg: CoapMessage, remote: RemoteAddress, dedupKey: DedupKey): void {
    const key = tokenKey(remote, msg.token);
    const p = this.pendingByToken.get(key);
    if (p !== undefined) {
      this.acknowledge(msg, remote, dedupKey);
      this.advance(p, { kind: 'response' }, msg);
      return;
    }
    const observation = this.observations.get(key);
    if (observation !== undefined) {
      this.acknowledge(msg, remote, dedupKey);
      this.onNotification(observation, key, msg, remote);
      return;
    }
    this.counters.unmatchedResponses++;
    if (hasOption(msg, CoapOptionNumber.Observe)) {
      let decision: 'keep' | 'reject' = 'reject';
      try {
        decision = this.unknownNotificationHandler(this.toIncomingResponse(remote, msg, msg.payload));
      } catch (err) {
        this.logger.warn({ err }, 'onUnknownNotification handler threw');
      }
      if (decision === 'keep') {
        this.acknowledge(msg, remote, dedupKey);
        return;
      }
    }
    const rst = this.emptyBytes('RST', msg.messageId);
    this.dedup.set(dedupKey, { reply: rst } satisfies SeenResponse);
    this.send(rst, remote);
  }

  /** ACKs a CON response (remembering the ACK for duplicates); remembers a NON one as seen. */
  private acknowledge(msg: CoapMessage, remote: RemoteAddress, dedupKey: DedupKey): void {
    if (msg.type !== 'CON') {
      this.dedup.set(dedupKey, NON_RESPONSE_SEEN);
      return;
    }
    const ack = this.emptyBytes('ACK', msg.messageId);
    this.dedup.set(dedupKey, { reply: ack } satisfies SeenResponse);
    this.send(ack, remote);
  }

  private onNotification(observation: ObservationState, key: string, msg: CoapMessage, remote: RemoteAddress): void {
    if (!observation.established) return;
    const sequence = getUintOption(msg, CoapOptionNumber.Observe);
    const now = this.clock.now();
    if (sequence === undefined || codeClass(msg.code) !== 2) {
      // RFC 7641 §3.2: an error or a response without Observe ends the observation.
      this.forgetObservation(key, msg.token);
    } else {
      if (!isFreshNotification(observation.lastSequence, observation.lastAt, sequence, now)) {
        this.counters.staleNotifications++;
        return;
      }
      observation.lastSequence = sequence;
      observation.lastAt = now;
    }
    const deliver = (payload: Buffer): void => {
      this.counters.notificationsDelivered++;
      try {
        observation.onNotification(this.toIncomingResponse(remote, msg, payload));
      } catch (err) {
        this.logger.warn({ err }, 'notification handler threw');
      }
    };
    const block2 = safeBlock(msg, CoapOptionNumber.Block2);
    if (block2 === undefined || !block2.more) {
      deliver(msg.payload);
      return;
    }
    const req: OutgoingRequest = { ...observation.request, method: 'GET', payload: undefined };
    completeBlock2(this.transferContext(remote), req, msg).then(
      (result) => {
        // A newer notification may have overtaken this one while its blocks were fetched.
        if (sequence === undefined || observation.lastSequence === sequence) deliver(result.payload);
      },
      (err: unknown) => this.logger.warn({ err: String(err) }, 'could not complete a Block2 notification'),
    );
  }

  // ───────────────────────────── server role ─────────────────────────────

  private onRequest(msg: CoapMessage, remote: RemoteAddress, dedupKey: DedupKey): void {
    const confirmable = msg.type === 'CON';
    const method = METHODS[msg.code];
    if (method === undefined) {
      this.answerNow(msg, remote, dedupKey, textResponse(CoapCode.MethodNotAllowed, `unknown method code ${msg.code}`));
      return;
    }
    const badOption = firstUnknownCriticalOption(msg);
    if (badOption !== undefined) {
      this.answerNow(msg, remote, dedupKey, textResponse(CoapCode.BadOption, `unrecognized critical option ${badOption}`));
      return;
    }
    let block1: BlockOption | undefined;
    let block2: BlockOption | undefined;
    try {
      block1 = getBlockOption(msg, CoapOptionNumber.Block1);
      block2 = getBlockOption(msg, CoapOptionNumber.Block2);
    } catch (err) {
      this.answerNow(msg, remote, dedupKey, textResponse(CoapCode.BadOption, (err as Error).message));
      return;
    }
    const path = uriPath(msg);
    const query = uriQuery(msg);
    let payload = msg.payload;
    let block1Echo: BlockOption | undefined;
    if (block1 !== undefined) {
      const key = `${midKeyPrefix(remote)}${method} ${path.join('/')}?${query.join('&')}`;
      const outcome = this.block1.accept(key, block1, msg.payload, getUintOption(msg, CoapOptionNumber.Size1));
      switch (outcome.kind) {
        case 'continue':
          this.answerNow(msg, remote, dedupKey, {
            code: CoapCode.Continue,
            options: [{ number: CoapOptionNumber.Block1, value: encodeBlock({ num: block1.num, more: true, szx: outcome.szx }) }],
          });
          return;
        case 'incomplete':
          this.answerNow(msg, remote, dedupKey, textResponse(CoapCode.RequestEntityIncomplete, `Block1 block ${block1.num} out of order`));
          return;
        case 'too-large':
          this.answerNow(msg, remote, dedupKey, this.tooLarge());
          return;
        case 'bad-size':
          this.answerNow(msg, remote, dedupKey, textResponse(CoapCode.BadRequest, 'Block1 payload does not match its SZX'));
          return;
        case 'complete':
          payload = outcome.body;
          block1Echo = { num: block1.num, more: false, szx: outcome.szx };
      }
    } else if (payload.length > this.maxBodyBytes) {
      this.answerNow(msg, remote, dedupKey, this.tooLarge());
      return;
    }

    // Built only when a response turns out to need Block2: most answers fit one datagram.
    const cacheKey = (): string => this.block2KeyOf(remote, dedupKey.peer, path, query);
    if (block2 !== undefined && block2.num > 0 && (method === 'GET' || method === 'FETCH')) {
      const key = cacheKey();
      const cached = this.block2.get(key);
      if (cached !== undefined) {
        // A GET for a slice of a cached body is idempotent (RFC 7252 §4.5 lets us skip
        // de-duplication): a duplicate is served the identical slice again. Keeping every
        // block's bytes for EXCHANGE_LIFETIME would hold whole images per pulling device.
        if (block1Echo !== undefined || !this.answerCachedBlock(msg, remote, cached, block2)) this.answerNow(msg, remote, undefined, cached.response, { block2, block1Echo, cacheKey: key });
        return;
      }
      // Cache miss (expired, or a notification's blocks): ask the handler again and slice.
    }

    const request: IncomingRequest = {
      remote,
      method,
      path,
      query,
      payload,
      contentFormat: getUintOption(msg, CoapOptionNumber.ContentFormat),
      accept: getUintOption(msg, CoapOptionNumber.Accept),
      observe: getUintOption(msg, CoapOptionNumber.Observe),
      message: msg,
      security: this.peerSecurity(remote),
    };
    this.counters.requestsHandled++;
    const shaping = { block2, block1Echo, cacheKey };
    let result: OutgoingResponse | Promise<OutgoingResponse>;
    try {
      result = this.handler(request);
    } catch (err) {
      this.answerNow(msg, remote, dedupKey, this.handlerFailed(err, request));
      return;
    }
    if (!isPromiseLike(result)) {
      this.answerNow(msg, remote, dedupKey, result, shaping);
      return;
    }
    // Slow path: remember the exchange so duplicates and the ack delay are handled.
    let exchange: ServerExchange | undefined;
    if (confirmable) {
      exchange = { state: 'handling', remote, request: msg, dedupKey, ackDelay: undefined };
      const ex = exchange;
      exchange.ackDelay = this.timers.schedule(this.separateResponseDelayMs, () => {
        ex.ackDelay = undefined;
        this.advanceServerExchange(ex, 'ack-delay-elapsed');
      });
      this.dedup.set(dedupKey, exchange);
    } else {
      this.dedup.set(dedupKey, null);
    }
    result.then(
      (response) => this.respondLater(msg, remote, dedupKey, exchange, response, shaping),
      (err: unknown) => this.respondLater(msg, remote, dedupKey, exchange, this.handlerFailed(err, request), shaping),
    );
  }

  private respondLater(msg: CoapMessage, remote: RemoteAddress, dedupKey: DedupKey, exchange: ServerExchange | undefined, response: OutgoingResponse, shaping: Shaping): void {
    if (this.closed) return;
    if (exchange === undefined) {
      this.answerNow(msg, remote, dedupKey, response, shaping);
      return;
    }
    this.timers.cancel(exchange.ackDelay);
    const { state, action } = nextServerExchange(exchange.state, 'response-ready');
    exchange.state = state;
    if (action === 'send-piggybacked') {
      this.answerNow(msg, remote, dedupKey, response, shaping);
    } else if (action === 'send-separate') {
      let shaped: ReturnType<CoapEndpoint['shapeResponse']>;
      try {
        shaped = this.shapeResponse(response, shaping.block2, shaping.block1Echo, shaping.cacheKey);
      } catch (err) {
        shaped = this.shapeResponse(this.handlerFailed(err, undefined));
      }
      const separate: CoapMessage = { type: 'CON', code: shaped.code, messageId: this.allocateMessageId(), token: msg.token, options: shaped.options, payload: shaped.payload };
      this.transmit(remote, separate, undefined, this.defaultTimeoutMs).catch((err: unknown) => {
        this.logger.debug({ remote, err: String(err) }, 'separate response not acknowledged');
      });
    }
  }

  private advanceServerExchange(exchange: ServerExchange, event: ServerExchangeEvent): void {
    const { state, action } = nextServerExchange(exchange.state, event);
    exchange.state = state;
    if (action === 'send-empty-ack') {
      this.timers.cancel(exchange.ackDelay);
      exchange.ackDelay = undefined;
      const ack = this.emptyBytes('ACK', exchange.request.messageId);
      // From now on a duplicate is answered with this same empty ACK.
      this.dedup.set(exchange.dedupKey, ack);
      this.send(ack, exchange.remote);
    }
  }

  /** Piggybacked (CON) or NON response, remembered for duplicates. */
  private answerNow(msg: CoapMessage, remote: RemoteAddress, dedupKey: DedupKey | undefined, response: OutgoingResponse, shaping?: Shaping): void {
    if (response.locationPath !== undefined && isLocationOnly(response, shaping)) {
      // The answer to every registration: straight to bytes, no option objects.
      const confirmable = msg.type === 'CON';
      const bytes = serializeLocationResponse(confirmable ? 'ACK' : 'NON', response.code, confirmable ? msg.messageId : this.allocateMessageId(), msg.token, response.locationPath);
      if (dedupKey !== undefined) this.dedup.set(dedupKey, bytes);
      this.send(bytes, remote);
      return;
    }
    let shaped: ReturnType<CoapEndpoint['shapeResponse']>;
    try {
      shaped = this.shapeResponse(response, shaping?.block2, shaping?.block1Echo, shaping?.cacheKey);
    } catch (err) {
      shaped = this.shapeResponse(this.handlerFailed(err, undefined));
    }
    const confirmable = msg.type === 'CON';
    const bytes = serializeMessage({
      type: confirmable ? 'ACK' : 'NON',
      code: shaped.code,
      messageId: confirmable ? msg.messageId : this.allocateMessageId(),
      token: msg.token,
      options: shaped.options,
      payload: shaped.payload,
    });
    if (dedupKey !== undefined) this.dedup.set(dedupKey, bytes);
    this.send(bytes, remote);
  }

  /** block2Key(), the string reused while a peer keeps asking for the same path and query. */
  private block2KeyOf(remote: RemoteAddress, peer: DedupKey['peer'], path: string[], query: string[]): string {
    const security = this.peerSecurity(remote);
    const memo = this.block2Keys.get(peer);
    if (memo !== undefined && memo.mode === security?.mode && memo.identity === security?.identity && sameStrings(memo.path, path) && sameStrings(memo.query, query)) return memo.key;
    const key = block2Key(remote, security, path, query);
    this.block2Keys.set(peer, { path, query, mode: security?.mode, identity: security?.identity, key });
    return key;
  }

  /**
   * A block after the first of a cached body, as shapeResponse + serializeMessage would
   * answer it, from the body's options serialized once (see block2-response.ts); false when
   * this body or block needs the general path (options after Block2, a block beyond the body).
   */
  private answerCachedBlock(msg: CoapMessage, remote: RemoteAddress, cached: CachedBody, block2: BlockOption): boolean {
    let prefix = this.block2Prefixes.get(cached);
    if (prefix === undefined) {
      const response = cached.response;
      const options = responseOptions(response);
      if (!options.some((o) => o.number === CoapOptionNumber.ETag)) options.push({ number: CoapOptionNumber.ETag, value: cached.etag });
      prefix = block2Prefix(options) ?? null;
      this.block2Prefixes.set(cached, prefix);
    }
    if (prefix === null) return false;
    const body = cached.body;
    const szx = Math.min(block2.szx, this.preferredSzx);
    const size = blockSize(szx);
    const num = block2.num;
    const offset = num * size;
    if (offset >= body.length) return false;
    const chunk = body.subarray(offset, offset + size);
    const more = offset + chunk.length < body.length;
    const confirmable = msg.type === 'CON';
    const bytes = serializeBlock2(confirmable ? ACK_TYPE : NON_TYPE, cached.response.code, confirmable ? msg.messageId : this.allocateMessageId(), msg.token, prefix, num, more, szx, chunk);
    this.block2Served?.({ response: cached.response, num, szx, bytesThrough: offset + chunk.length, total: body.length });
    this.send(bytes, remote);
    return true;
  }

  /**
   * Options and payload of a response, cut into a Block2 block when the body is larger than
   * the negotiated size (the request's Block2 SZX if smaller than ours).
   */
  private shapeResponse(response: OutgoingResponse, block2?: BlockOption, block1Echo?: BlockOption, lazyCacheKey?: string | (() => string)): { code: number; options: CoapOption[]; payload: Buffer } {
    const options = responseOptions(response);
    if (block1Echo) options.push({ number: CoapOptionNumber.Block1, value: encodeBlock(block1Echo) });
    const body = response.payload ?? EMPTY;
    const szx = block2 ? Math.min(block2.szx, this.preferredSzx) : this.preferredSzx;
    const size = blockSize(szx);
    const num = block2?.num ?? 0;
    if (body.length <= size && num === 0) return { code: response.code, options, payload: body };
    // An error's diagnostic payload is not the requested representation: it goes out whole
    // whatever block was asked for (the resource may have gone between two blocks).
    if (codeClass(response.code) >= 4 && body.length <= size) return { code: response.code, options, payload: body };

    const cacheKey = typeof lazyCacheKey === 'function' ? lazyCacheKey() : lazyCacheKey;
    let etag = getOption({ options } as CoapMessage, CoapOptionNumber.ETag);
    if (etag === undefined) {
      const cached = cacheKey === undefined ? undefined : this.block2.get(cacheKey);
      const entry = cached !== undefined && cached.response === response ? cached : cacheKey !== undefined ? this.block2.put(cacheKey, response, body) : undefined;
      if (entry !== undefined) {
        etag = entry.etag;
        options.push({ number: CoapOptionNumber.ETag, value: etag });
      }
    } else if (cacheKey !== undefined && this.block2.get(cacheKey)?.response !== response) {
      this.block2.put(cacheKey, response, body);
    }
    const offset = num * size;
    if (offset >= body.length && !(offset === 0 && body.length === 0)) {
      return textResponse(CoapCode.BadOption, `Block2 block ${num} is beyond the ${body.length}-byte body`) as { code: number; options: CoapOption[]; payload: Buffer };
    }
    const chunk = body.subarray(offset, offset + size);
    const more = offset + chunk.length < body.length;
    options.push({ number: CoapOptionNumber.Block2, value: encodeBlock({ num, more, szx }) });
    if (num === 0) options.push({ number: CoapOptionNumber.Size2, value: encodeUint(body.length) });
    this.block2Served?.({ response, num, szx, bytesThrough: offset + chunk.length, total: body.length });
    return { code: response.code, options, payload: chunk };
  }

  private tooLarge(): OutgoingResponse {
    return {
      ...textResponse(CoapCode.RequestEntityTooLarge, `request body exceeds ${this.maxBodyBytes} bytes`),
      options: [{ number: CoapOptionNumber.Size1, value: encodeUint(this.maxBodyBytes) }],
    };
  }

  private handlerFailed(err: unknown, request: IncomingRequest | undefined): OutgoingResponse {
    this.counters.handlerErrors++;
    this.logger.error({ err, method: request?.method, path: request?.path.join('/') }, 'CoAP request handler failed');
    return textResponse(CoapCode.InternalServerError, 'internal error');
  }

  // ───────────────────────────── plumbing ─────────────────────────────

  private toIncomingResponse(remote: RemoteAddress, msg: CoapMessage, payload: Buffer): IncomingResponse {
    return {
      remote,
      code: msg.code,
      payload,
      contentFormat: getUintOption(msg, CoapOptionNumber.ContentFormat),
      observe: getUintOption(msg, CoapOptionNumber.Observe),
      message: msg,
    };
  }

  private allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = (id + 1) & 0xffff;
    return id;
  }

  private allocateToken(): Buffer {
    for (;;) {
      const token = randomToken();
      const hex = token.toString('hex');
      if (!this.tokensInUse.has(hex)) {
        this.tokensInUse.add(hex);
        return token;
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('endpoint closed');
  }

  private emptyBytes(type: 'ACK' | 'RST', messageId: number): Buffer {
    const out = Buffer.allocUnsafe(4);
    out[0] = type === 'ACK' ? 0x60 : 0x70;
    out[1] = 0;
    out.writeUInt16BE(messageId, 2);
    return out;
  }

  private sendEmpty(type: 'ACK' | 'RST', messageId: number, remote: RemoteAddress): void {
    this.send(this.emptyBytes(type, messageId), remote);
  }

  private send(bytes: Buffer, remote: RemoteAddress): void {
    this.counters.sent++;
    this.transport.send(bytes, remote);
  }
}

interface Shaping {
  block2: BlockOption | undefined;
  block1Echo: BlockOption | undefined;
  cacheKey: string | (() => string) | undefined;
}

function midKey(remote: RemoteAddress, messageId: number): string {
  return `${remote.address}|${remote.port}|${messageId}`;
}

function midKeyPrefix(remote: RemoteAddress): string {
  return `${remote.address}|${remote.port}|`;
}

function tokenKey(remote: RemoteAddress, token: Buffer): string {
  return `${remote.address}|${remote.port}|${token.toString('hex')}`;
}

const NON_RESPONSE_SEEN: SeenResponse = Object.freeze({ reply: null });

function isSeenResponse(entry: ServerExchange | SeenResponse): entry is SeenResponse {
  return 'reply' in entry;
}

/**
 * Whether a message that reuses a cached (peer, message ID) is that message again. A
 * duplicate repeats the message (RFC 7252 §4.2): a request where a response was seen, a
 * response where a request was, or a request with another token, is a new message from a
 * peer that came back on the same address and port (a restarted device, a socket the OS gave
 * a recently used port) and happened on a message ID still in the cache. Taking it for a
 * duplicate dropped it, or answered it with the old answer, whose token matched nothing the
 * client had asked: the client retransmitted into the same answer until it gave up.
 */
function sameMessage(seen: DedupEntry, msg: CoapMessage, cls: number): boolean {
  const isResponse = (c: number) => c >= 2 && c <= 5;
  if (seen === null) return cls === 0; // a NON request still being handled: its token is not kept
  if (!Buffer.isBuffer(seen)) return isSeenResponse(seen) ? isResponse(cls) : cls === 0 && seen.request.token.equals(msg.token);
  if (cls !== 0) return false;
  // Our answer: a response carries the request's token; an empty ACK (a slow handler's) does not.
  if (!isResponse(codeClass(seen[1]))) return true;
  const tkl = seen[0] & 0x0f;
  return tkl === msg.token.length && seen.subarray(4, 4 + tkl).equals(msg.token);
}

interface Block2KeyMemo {
  path: string[];
  query: string[];
  mode: PeerSecurity['mode'] | undefined;
  identity: string | undefined;
  key: string;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A cached body is served block by block without asking the handler again, so the key holds
 * everything the handler's answer may depend on: the peer's address and, over DTLS, its
 * authenticated identity (another identity at the same address must be asked afresh).
 */
function block2Key(remote: RemoteAddress, security: PeerSecurity | undefined, path: string[], query: string[]): string {
  const peer = security === undefined ? '' : `${security.mode}:${security.identity}`;
  return `${remote.address}|${remote.port}|${peer}|${path.join('/')}?${query.join('&')}`;
}

/** The options a response carries whatever block of it is sent: Content-Format, Location-Path, its own. */
function responseOptions(response: OutgoingResponse): CoapOption[] {
  const options: CoapOption[] = [];
  if (response.contentFormat !== undefined) options.push({ number: CoapOptionNumber.ContentFormat, value: encodeUint(response.contentFormat) });
  for (const segment of response.locationPath ?? []) options.push({ number: CoapOptionNumber.LocationPath, value: Buffer.from(segment, 'utf8') });
  if (response.options) options.push(...response.options);
  return options;
}

function textResponse(code: number, reason: string): OutgoingResponse & { options: CoapOption[]; payload: Buffer } {
  return { code, payload: Buffer.from(reason, 'utf8'), options: [], contentFormat: 0 };
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function safeBlock(msg: CoapMessage, number: number): BlockOption | undefined {
  try {
    return getBlockOption(msg, number);
  } catch {
    return undefined;
  }
}

/** A response that carries Location-Path and nothing else a block-wise answer would need. */
function isLocationOnly(response: OutgoingResponse, shaping: Shaping | undefined): boolean {
  return (
    (response.payload === undefined || response.payload.length === 0) &&
    response.contentFormat === undefined &&
    (response.options === undefined || response.options.length === 0) &&
    shaping?.block1Echo === undefined &&
    shaping?.block2 === undefined
  );
}
