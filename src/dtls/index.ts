/**
 * DTLS 1.2 server transport (RFC 6347) on node:crypto, for CoAPS under the CoAP endpoint.
 *
 * Implemented:
 * - Record layer: epochs, 48-bit sequence numbers, 64-record anti-replay window, several
 *   records per datagram, silent drop (counted) of records that fail authentication,
 *   0xFEFD records (0xFEFF / 0xFE00 accepted on a first ClientHello).
 * - Handshake fragmentation and reassembly both ways (flights fit `limits.pmtu`).
 * - Explicit server handshake state machine (handshake-machine.ts), flight retransmission
 *   with back-off (1 s doubling to 60 s, bounded), resend on a duplicate client flight.
 * - Stateless HelloVerifyRequest cookies (rotating HMAC secret), alerts, close_notify,
 *   renegotiation refused (no_renegotiation), new hello from the same address after a
 *   verified cookie replaces the old session.
 * - Suites: TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256,
 *   TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (P-256).
 *   Extended master secret (RFC 7627), secure renegotiation indication (RFC 5746).
 * - Server authentication by X.509 chain or RFC 7250 raw public key; client authentication
 *   by X.509 (chain, dates, trust anchors, CertificateVerify) or raw public key (callback).
 * - Connection ID (RFC 9146, extension 54, tls12_cid records), session moves on a new address.
 * - Session-id resumption (LRU cache), limits (sessions, handshakes, idle, per-IP rate), stats().
 *
 * Not implemented (yet): DTLS 1.3, session tickets, encrypt-then-MAC (RFC 7366), PSK with
 * ECDHE (RFC 5489), record size limit / max_fragment_length negotiation, PMTU discovery
 * (the PMTU is configured), certificate revocation (CRL/OCSP), name constraints and key
 * usage checks on client chains, buffering of records from a future epoch.
 */
export { bindDtlsTransport, type DtlsTransport, type DtlsTransportOptions } from './transport.js';
export { DtlsServer, type DtlsServerOptions, type DtlsServerIo } from './server.js';
export {
  DEFAULT_LIMITS,
  type DtlsEcdsaConfig,
  type DtlsEvent,
  type DtlsLimits,
  type DtlsPeerIdentity,
  type DtlsPskConfig,
  type DtlsStats,
} from './config.js';
