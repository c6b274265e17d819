/** Configuration and identity types shared by the DTLS server pieces. */

export interface DtlsPskConfig {
  /** The key for an identity, or undefined when the identity is unknown. */
  pskFor(identity: string): Buffer | undefined;
  /** Sent in a ServerKeyExchange when set (RFC 4279 §2). */
  hint?: string;
}

export interface DtlsEcdsaConfig {
  /** The server's P-256 key (PKCS#8 or SEC1 PEM). */
  privateKeyPem: string;
  /** Leaf first. Needed for X.509 clients; not needed when only raw public keys are used. */
  certificateChainPem?: string[];
  /** Offer RFC 7250 raw public keys (server and client side) when the client asks. */
  rawPublicKey?: boolean;
  /** Client X.509 chains must end at one of these; without it no client certificate is requested. */
  trustAnchorsPem?: string[];
  /** Decides a client's raw public key (SubjectPublicKeyInfo DER). */
  rpkAllowed?(spkiDer: Buffer): boolean;
}

export interface DtlsLimits {
  /** Established plus handshaking sessions. */
  maxSessions: number;
  maxHandshakesInProgress: number;
  /** A session with no authenticated traffic for this long is dropped. */
  idleTimeoutMs: number;
  /** Cookie-verified handshakes started per source IP: bucket size and refill per second. */
  handshakeBurstPerIp: number;
  handshakesPerIpPerSecond: number;
  /** Largest datagram we send during the handshake (path MTU minus IP/UDP headers). */
  pmtu: number;
  initialRetransmitMs: number;
  maxRetransmitMs: number;
  /** Flight transmissions after the first before the handshake is abandoned. */
  maxRetransmissions: number;
  /** Resumable sessions remembered (LRU); 0 disables resumption. */
  sessionCacheSize: number;
  /** Length of the Connection IDs we issue; 0 disables RFC 9146. */
  cidLength: number;
}

export const DEFAULT_LIMITS: DtlsLimits = {
  maxSessions: 10_000,
  maxHandshakesInProgress: 500,
  idleTimeoutMs: 30 * 60_000,
  handshakeBurstPerIp: 20,
  handshakesPerIpPerSecond: 10,
  pmtu: 1200,
  initialRetransmitMs: 1000,
  maxRetransmitMs: 60_000,
  maxRetransmissions: 6,
  sessionCacheSize: 1000,
  cidLength: 6,
};

export type DtlsPeerIdentity =
  | { kind: 'psk'; identity: string }
  | { kind: 'rpk'; publicKeyDer: Buffer }
  | { kind: 'x509'; subjectCN: string; chainDer: Buffer[] };

export type DtlsEvent =
  | { kind: 'handshakeCompleted'; remote: { address: string; port: number }; /** undefined: certificate suite without client authentication. */ identity?: DtlsPeerIdentity; cipherSuite: string; resumed: boolean }
  | { kind: 'handshakeFailed'; remote: { address: string; port: number }; reason: string; alert?: number }
  | { kind: 'unknownPskIdentity'; remote: { address: string; port: number }; identity: string }
  | { kind: 'sessionClosed'; remote: { address: string; port: number }; reason: string };

export interface DtlsStats {
  sessions: number;
  handshakesInProgress: number;
  helloVerifyRequestsSent: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  resumptions: number;
  recordsDroppedBadMac: number;
  recordsDroppedReplay: number;
  recordsDroppedMalformed: number;
  recordsDroppedNoSession: number;
  alertsSent: number;
  alertsReceived: number;
  unknownPskIdentity: number;
  renegotiationsRefused: number;
  addressChanges: number;
  sessionsEvictedIdle: number;
  handshakesRejectedByLimit: number;
  retransmissions: number;
  internalErrors: number;
}

export const emptyStats = (): DtlsStats => ({
  sessions: 0,
  handshakesInProgress: 0,
  helloVerifyRequestsSent: 0,
  handshakesStarted: 0,
  handshakesCompleted: 0,
  handshakesFailed: 0,
  resumptions: 0,
  recordsDroppedBadMac: 0,
  recordsDroppedReplay: 0,
  recordsDroppedMalformed: 0,
  recordsDroppedNoSession: 0,
  alertsSent: 0,
  alertsReceived: 0,
  unknownPskIdentity: 0,
  renegotiationsRefused: 0,
  addressChanges: 0,
  sessionsEvictedIdle: 0,
  handshakesRejectedByLimit: 0,
  retransmissions: 0,
  internalErrors: 0,
});
