/**
 * The registration load generator: keeps a fixed window of CON POST /rd requests outstanding
 * from ONE UDP socket, each with a distinct endpoint name, and counts the answers whose
 * message ID and token match. Nothing is retried; a request unanswered after
 * `lossTimeoutMs` is counted as lost and its slot reused, so losses never shrink the window.
 *
 * One socket at a time, but not one socket for the whole run: a CoAP peer must treat a
 * message ID seen again from the same address within EXCHANGE_LIFETIME (247 s) as a
 * duplicate, and at tens of thousands of requests per second the 16-bit IDs wrap within a
 * couple of seconds. So the generator moves to a fresh source port each time its IDs wrap.
 */
import dgram from 'node:dgram';
import { buildRegisterDatagram, readResponseHeader } from './register-datagram.js';

export type ExpectedAnswer =
  /** The peer sends the datagram back unchanged (the raw UDP echo baseline). */
  | 'echo'
  /** A piggybacked ACK 2.01 Created, as an LwM2M server answers a registration. */
  | 'created';

export interface LoadOptions {
  host: string;
  port: number;
  expect: ExpectedAnswer;
  /** Outstanding requests at any time. */
  window: number;
  /** Timed mode: answers are counted only after the warm-up, for `durationMs`. */
  warmupMs?: number;
  durationMs?: number;
  /** Count mode (instead of timed): send exactly this many registrations, then finish. */
  total?: number;
  lifetimeSec?: number;
  /** Distinct per run so two runs never reuse an endpoint name. */
  namePrefix: string;
  lossTimeoutMs?: number;
}

export interface LoadResult {
  sent: number;
  /** Matching answers over the whole run. */
  answered: number;
  /** Matching answers inside the measured span (timed mode; equals `answered` in count mode). */
  measuredAnswers: number;
  measuredMs: number;
  /** measuredAnswers per second. */
  rate: number;
  lost: number;
  /** Matched by ID and token but not the expected answer (e.g. 4.00, 5.03). */
  rejected: number;
  /** Datagrams that matched no outstanding request (late, duplicated or foreign). */
  unmatched: number;
}

const TYPE_ACK = 2;
const CODE_CREATED = 0x41;
const NAME_DIGITS = 10;
const SWEEP_INTERVAL_MS = 100;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const timed = options.total === undefined;
  if (timed && options.durationMs === undefined) throw new Error('runLoad: give durationMs or total');
  const windowSize = Math.max(1, Math.min(options.window, 4096));
  const lossTimeoutMs = options.lossTimeoutMs ?? 1000;
  const warmupMs = timed ? (options.warmupMs ?? 0) : 0;

  // One template; each request copies it and patches message ID, token and name digits.
  const placeholder = options.namePrefix + '0'.repeat(NAME_DIGITS);
  const template = buildRegisterDatagram({
    endpointName: placeholder,
    lifetimeSec: options.lifetimeSec ?? 300,
    messageId: 0,
    token: 0,
  });
  const digitsOffset = template.indexOf(Buffer.from(placeholder, 'latin1')) + options.namePrefix.length;

  // Bound up front so switching never waits: enough for ~1M requests per timed run.
  const socketCount = timed ? 16 : Math.ceil((options.total as number) / 65536) + 1;
  const sockets = await Promise.all(Array.from({ length: socketCount }, bindSocket));
  let socketIndex = 0;
  let socket = sockets[0];
  let sentOnSocket = 0;

  // Slot state in typed arrays: the generator allocates nothing per request but the datagram.
  const slotByMessageId = new Int32Array(65536).fill(-1);
  const slotMessageId = new Int32Array(windowSize).fill(-1);
  const slotToken = new Uint32Array(windowSize);
  const slotSentAt = new Float64Array(windowSize);

  const result: LoadResult = {
    sent: 0,
    answered: 0,
    measuredAnswers: 0,
    measuredMs: 0,
    rate: 0,
    lost: 0,
    rejected: 0,
    unmatched: 0,
  };
  let nextMessageId = Math.floor(Math.random() * 65536);
  let nextToken = (Math.random() * 0xffffffff) >>> 0;
  let outstanding = 0;
  const startedAt = performance.now();
  const measureFrom = startedAt + warmupMs;
  const measureUntil = measureFrom + (options.durationMs ?? 0);
  let sending = true;

  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const canSendMore = (): boolean =>
    sending && (timed ? performance.now() < measureUntil : result.sent < (options.total as number));

  const sendInto = (slot: number): void => {
    if (!canSendMore()) {
      slotMessageId[slot] = -1;
      if (outstanding === 0) finish();
      return;
    }
    // Skip message IDs still held by another slot (only possible with huge windows).
    while (slotByMessageId[nextMessageId] !== -1) nextMessageId = (nextMessageId + 1) & 0xffff;
    const messageId = nextMessageId;
    nextMessageId = (nextMessageId + 1) & 0xffff;
    const token = nextToken;
    nextToken = (nextToken + 1) >>> 0;
    if (sentOnSocket === 65536) {
      // Wrap-around on the last socket reuses IDs early; only a run far beyond its budget gets there.
      socketIndex = (socketIndex + 1) % sockets.length;
      socket = sockets[socketIndex];
      sentOnSocket = 0;
    }
    sentOnSocket++;
    const datagram = Buffer.from(template);
    datagram.writeUInt16BE(messageId, 2);
    datagram.writeUInt32BE(token, 4);
    datagram.write(String(result.sent).padStart(NAME_DIGITS, '0'), digitsOffset, 'latin1');
    slotMessageId[slot] = messageId;
    slotToken[slot] = token;
    slotSentAt[slot] = performance.now();
    slotByMessageId[messageId] = slot;
    outstanding++;
    result.sent++;
    socket.send(datagram, options.port, options.host);
  };

  const release = (slot: number): void => {
    slotByMessageId[slotMessageId[slot]] = -1;
    slotMessageId[slot] = -1;
    outstanding--;
  };

  const onMessage = (datagram: Buffer): void => {
    const header = readResponseHeader(datagram);
    const slot = header === undefined ? -1 : slotByMessageId[header.messageId];
    if (header === undefined || slot === -1 || slotToken[slot] !== header.token >>> 0 || header.token === -1) {
      result.unmatched++;
      return;
    }
    const expected =
      options.expect === 'echo' ? true : header.type === TYPE_ACK && header.code === CODE_CREATED;
    release(slot);
    if (expected) {
      result.answered++;
      const now = performance.now();
      if (!timed || (now >= measureFrom && now < measureUntil)) result.measuredAnswers++;
    } else {
      result.rejected++;
    }
    sendInto(slot);
  };
  for (const each of sockets) each.on('message', onMessage);

  const sweep = setInterval(() => {
    const now = performance.now();
    for (let slot = 0; slot < windowSize; slot++) {
      if (slotMessageId[slot] !== -1 && now - slotSentAt[slot] > lossTimeoutMs) {
        release(slot);
        result.lost++;
        sendInto(slot);
      }
    }
    if (timed && now >= measureUntil + lossTimeoutMs) sending = false;
    if (!canSendMore() && outstanding === 0) finish();
  }, SWEEP_INTERVAL_MS);

  for (let slot = 0; slot < windowSize; slot++) sendInto(slot);
  await finished;
  clearInterval(sweep);
  await Promise.all(sockets.map((each) => new Promise<void>((resolve) => each.close(() => resolve()))));

  result.measuredMs = timed ? (options.durationMs as number) : performance.now() - startedAt;
  result.rate = result.measuredMs > 0 ? (result.measuredAnswers * 1000) / result.measuredMs : 0;
  return result;
}

async function bindSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return socket;
}
