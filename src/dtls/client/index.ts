/**
 * DTLS 1.2 client (RFC 6347) built from the same record, framing, PRF and suite modules as
 * the server: PSK (CCM_8, CBC_SHA256) and ECDHE_ECDSA (CCM_8, GCM) with raw public keys
 * (RFC 7250) or X.509 (server chain checked against trust anchors; client certificate when
 * requested), HelloVerifyRequest cookies, flight retransmission with back-off, handshake
 * fragmentation both ways, extended master secret (RFC 7627), Connection ID (RFC 9146) and
 * session-id resumption.
 *
 * Not implemented: server name checks on X.509 (the chain and an optional key pin decide),
 * session tickets, renegotiation (declined), buffering records of a future epoch (the peer
 * retransmits), PMTU discovery (configured), DTLS 1.3.
 */
export { connectDtls, type DtlsClientTransport, type DtlsConnectOptions } from './connect.js';
export { DtlsClientConnection, type DtlsClientIo } from './client-connection.js';
export { clientTransition, type ClientEvent, type ClientPhase, type ClientTransition } from './client-machine.js';
export {
  DEFAULT_RETRANSMISSION,
  DtlsHandshakeError,
  type DtlsClientConfig,
  type DtlsClientEcdsa,
  type DtlsClientPsk,
  type DtlsClientSession,
  type DtlsClientStats,
  type DtlsRetransmission,
} from './options.js';
