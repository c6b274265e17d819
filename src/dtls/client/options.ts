/** What a DTLS client is configured with, and what it hands back (sessions, errors, stats). */
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';

export interface DtlsClientPsk {
  identity: string;
  key: Buffer;
}

export interface DtlsClientEcdsa {
  /** Our P-256 key (PKCS#8 or SEC1 PEM); used when the server asks for a client certificate. */
  privateKeyPem: string;
  /** Leaf first. Sent when the server requests an X.509 client certificate. */
  certificateChainPem?: string[];
  /** Use RFC 7250 raw public keys for both sides instead of X.509. */
  rawPublicKey?: boolean;
  /** X.509 mode: the server's chain must end at one of these. */
  trustAnchorsPem?: string[];
  /** The server's SubjectPublicKeyInfo DER: required for raw public keys, optional pin for X.509. */
  serverPublicKeyDer?: Buffer;
}

export interface DtlsRetransmission {
  initialMs: number;
  maxMs: number;
  /** Flight transmissions after the first before the handshake is abandoned. */
  maxRetransmissions: number;
}

export const DEFAULT_RETRANSMISSION: DtlsRetransmission = { initialMs: 1000, maxMs: 60_000, maxRetransmissions: 6 };

/** Everything needed to resume a session with an abbreviated handshake (RFC 5246 §7.4.1.2). */
export interface DtlsClientSession {
  sessionId: Buffer;
  masterSecret: Buffer;
  cipherSuite: number;
  extendedMasterSecret: boolean;
}

/** The engine's configuration (no socket). */
export interface DtlsClientConfig {
  psk?: DtlsClientPsk;
  ecdsa?: DtlsClientEcdsa;
  /** Offer RFC 9146. `true` = we ask for no CID on records sent to us (we only send the server's). */
  cid?: boolean | { length: number };
  /** Restrict/reorder the offered suites (ids); default: every suite our credentials allow. */
  cipherSuites?: number[];
  /** Try an abbreviated handshake with this session first. */
  resumeSession?: DtlsClientSession;
  /** Largest datagram we send (default 1200). */
  pmtu?: number;
  retransmission?: Partial<DtlsRetransmission>;
  clock?: Clock;
  logger?: Logger;
}

export interface DtlsClientStats {
  retransmissions: number;
  recordsDroppedBadMac: number;
  recordsDroppedReplay: number;
  recordsDroppedMalformed: number;
  alertsSent: number;
  alertsReceived: number;
}

export const emptyClientStats = (): DtlsClientStats => ({
  retransmissions: 0,
  recordsDroppedBadMac: 0,
  recordsDroppedReplay: 0,
  recordsDroppedMalformed: 0,
  alertsSent: 0,
  alertsReceived: 0,
});

/** The handshake did not complete; `alert` is the TLS alert sent or received, when there was one. */
export class DtlsHandshakeError extends Error {
  override readonly name = 'DtlsHandshakeError';
  constructor(message: string, readonly alert?: number, readonly alertFromPeer = false) {
    super(message);
  }
}
