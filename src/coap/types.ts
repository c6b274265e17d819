/**
 * The contract of the CoAP stack (src/coap). Everything above it (lwm2m/, api/, the
 * simulators) speaks these types only; nothing above imports dgram.
 */

export type CoapMessageType = 'CON' | 'NON' | 'ACK' | 'RST';

/** A code as its wire byte: class << 5 | detail, e.g. 2.05 Content = 0x45. */
export type CoapCodeValue = number;

export const coapCode = (cls: number, detail: number): CoapCodeValue => (cls << 5) | detail;
export const codeClass = (code: CoapCodeValue): number => code >> 5;
/** '2.05' for 0x45. */
export const formatCode = (code: CoapCodeValue): string =>
  `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;

export const CoapCode = {
  Empty: 0x00,
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05,
  PATCH: 0x06,
  iPATCH: 0x07,
  Created: coapCode(2, 1),
  Deleted: coapCode(2, 2),
  Valid: coapCode(2, 3),
  Changed: coapCode(2, 4),
  Content: coapCode(2, 5),
  Continue: coapCode(2, 31),
  BadRequest: coapCode(4, 0),
  Unauthorized: coapCode(4, 1),
  BadOption: coapCode(4, 2),
  Forbidden: coapCode(4, 3),
  NotFound: coapCode(4, 4),
  MethodNotAllowed: coapCode(4, 5),
  NotAcceptable: coapCode(4, 6),
  RequestEntityIncomplete: coapCode(4, 8),
  Conflict: coapCode(4, 9),
  PreconditionFailed: coapCode(4, 12),
  RequestEntityTooLarge: coapCode(4, 13),
  UnsupportedContentFormat: coapCode(4, 15),
  InternalServerError: coapCode(5, 0),
  NotImplemented: coapCode(5, 1),
  ServiceUnavailable: coapCode(5, 3),
  GatewayTimeout: coapCode(5, 4),
} as const;

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

export const CoapOptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258,
} as const;

export interface CoapOption {
  number: number;
  value: Buffer;
}

/** One datagram, decoded. Options are kept sorted by number, repeats in wire order. */
export interface CoapMessage {
  type: CoapMessageType;
  code: CoapCodeValue;
  messageId: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

/** Where a datagram came from or goes to. */
export interface RemoteAddress {
  address: string;
  port: number;
}

/** Decoded value of a Block1/Block2 option (RFC 7959 §2.2). size = 2 ** (szx + 4). */
export interface BlockOption {
  num: number;
  more: boolean;
  szx: number;
}

/**
 * A request that arrived, after de-duplication and Block1 reassembly: `payload` is the
 * whole body, `message` is the last datagram of the exchange.
 */
export interface IncomingRequest {
  remote: RemoteAddress;
  method: CoapMethod;
  path: string[];
  query: string[];
  payload: Buffer;
  contentFormat?: number;
  accept?: number;
  observe?: number;
  message: CoapMessage;
  /**
   * Who the peer proved to be, when the transport authenticates peers (DTLS): undefined
   * over plain CoAP and over a DTLS session without client authentication.
   */
  security?: PeerSecurity;
}

/**
 * A peer authenticated by the transport, as the transport reports it (structurally the
 * same as the DTLS layer's DtlsPeerIdentity, so coap/ needs no import from dtls/).
 */
export type PeerIdentity =
  | { kind: 'psk'; identity: string }
  | { kind: 'rpk'; publicKeyDer: Buffer }
  | { kind: 'x509'; subjectCN: string; chainDer: Buffer[] };

/** A peer identity reduced to text: the PSK identity, the hex DER public key, or the certificate subject CN. */
export interface PeerSecurity {
  mode: 'psk' | 'rpk' | 'x509';
  identity: string;
}

// One conversion per DTLS session (the identity object lives as long as the session), not per request.
const peerSecurityCache = new WeakMap<PeerIdentity, PeerSecurity>();

export function peerSecurityOf(peer: PeerIdentity): PeerSecurity {
  let security = peerSecurityCache.get(peer);
  if (security) return security;
  if (peer.kind === 'psk') security = { mode: 'psk', identity: peer.identity };
  else if (peer.kind === 'rpk') security = { mode: 'rpk', identity: peer.publicKeyDer.toString('hex') };
  else security = { mode: 'x509', identity: peer.subjectCN };
  peerSecurityCache.set(peer, security);
  return security;
}

/** What a request handler answers. The endpoint does Block2 when the payload is large. */
export interface OutgoingResponse {
  code: CoapCodeValue;
  payload?: Buffer;
  contentFormat?: number;
  /** Location-Path segments, e.g. ['rd', '5a3f'] for a registration. */
  locationPath?: string[];
  /** Any further options (ETag, Size1, Max-Age...). */
  options?: CoapOption[];
}

export type RequestHandler = (request: IncomingRequest) => OutgoingResponse | Promise<OutgoingResponse>;

/** A request we send to a peer (a device, or the server when the simulator is the caller). */
export interface OutgoingRequest {
  method: CoapMethod;
  path?: string[];
  query?: string[];
  payload?: Buffer;
  contentFormat?: number;
  accept?: number;
  options?: CoapOption[];
  /** Default true (CON, retransmitted with RFC 7252 back-off). */
  confirmable?: boolean;
  /**
   * Give up when nothing has progressed (no response, no acknowledged block) for this
   * long. Default: the RFC 7252 budget of one CON message (MAX_TRANSMIT_WAIT, 93 s), so a
   * long block-wise transfer is never cut off while its blocks are still being answered.
   */
  timeoutMs?: number;
  /** Initial Block1/Block2 size exponent for large payloads (szx 0..6 = 16..1024 bytes). */
  blockSzx?: number;
  /**
   * Called as a Block1 upload makes progress (bytes acknowledged so far); the firmware
   * driver uses it so a long push is timed out by lack of progress, not by its length.
   */
  onProgress?: (bytesAcknowledged: number, totalBytes: number) => void;
}

/** A response we received, with Block2 already reassembled into `payload`. */
export interface IncomingResponse {
  remote: RemoteAddress;
  code: CoapCodeValue;
  payload: Buffer;
  contentFormat?: number;
  observe?: number;
  message: CoapMessage;
}

export interface Observation {
  token: Buffer;
  /** The first response (the one that set up the observation). */
  first: IncomingResponse;
  /** Sends a GET with Observe=1 (deregister) and forgets the token. */
  cancel(): Promise<void>;
}

export type NotificationHandler = (notification: IncomingResponse) => void;

/** Errors from our own requests. */
export class CoapTimeoutError extends Error {
  override readonly name = 'CoapTimeoutError';
}
export class CoapResetError extends Error {
  override readonly name = 'CoapResetError';
}

/**
 * The datagram transport under the endpoint: UDP today, DTLS records later. The endpoint
 * never touches a socket directly.
 */
export interface DatagramTransport {
  send(datagram: Buffer, remote: RemoteAddress): void;
  onDatagram(handler: (datagram: Buffer, remote: RemoteAddress) => void): void;
  /** The bound local address (port chosen by the OS when 0 was asked). */
  address(): RemoteAddress;
  close(): Promise<void>;
  /** Transports that authenticate peers (DTLS): who is at `remote`, undefined when unknown. */
  peerIdentity?(remote: RemoteAddress): PeerIdentity | undefined;
}

/** observe() got an error code (not 2.xx) instead of an established observation. */
export class CoapResponseError extends Error {
  override readonly name = 'CoapResponseError';
  constructor(readonly response: IncomingResponse) {
    super(`peer answered ${formatCode(response.code)}${response.payload.length > 0 ? `: ${response.payload.toString('utf8').slice(0, 200)}` : ''}`);
  }
}
