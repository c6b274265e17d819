/** Wire constants of DTLS 1.2 (RFC 6347, RFC 5246) and the extensions we speak. */

export const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
  /** RFC 9146: a record whose header carries a Connection ID; real type is inside. */
  Tls12Cid: 25,
} as const;

export const HandshakeType = {
  HelloRequest: 0,
  ClientHello: 1,
  ServerHello: 2,
  HelloVerifyRequest: 3,
  Certificate: 11,
  ServerKeyExchange: 12,
  CertificateRequest: 13,
  ServerHelloDone: 14,
  CertificateVerify: 15,
  ClientKeyExchange: 16,
  Finished: 20,
} as const;

export const AlertLevel = { Warning: 1, Fatal: 2 } as const;

export const AlertDescription = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  HandshakeFailure: 40,
  BadCertificate: 42,
  UnsupportedCertificate: 43,
  CertificateExpired: 45,
  IllegalParameter: 47,
  UnknownCa: 48,
  AccessDenied: 49,
  DecodeError: 50,
  DecryptError: 51,
  ProtocolVersion: 70,
  InsufficientSecurity: 71,
  InternalError: 80,
  NoRenegotiation: 100,
  UnsupportedExtension: 110,
  UnknownPskIdentity: 115,
} as const;

/** DTLS 1.2 on the wire (one's complement of 1.2). */
export const DTLS_1_2 = 0xfefd;
/** DTLS 1.0; clients (mbedTLS, OpenSSL) put it in the record header of their first ClientHello. */
export const DTLS_1_0 = 0xfeff;
/** Seen from some mbedTLS builds in the ClientHello record header. */
export const DTLS_LEGACY_ZERO = 0xfe00;

export const ExtensionType = {
  SupportedGroups: 10,
  EcPointFormats: 11,
  SignatureAlgorithms: 13,
  ClientCertificateType: 19,
  ServerCertificateType: 20,
  EncryptThenMac: 22,
  ExtendedMasterSecret: 23,
  SessionTicket: 35,
  ConnectionId: 54,
  RenegotiationInfo: 0xff01,
} as const;

/** RFC 7250 certificate types. */
export const CertificateType = { X509: 0, RawPublicKey: 2 } as const;

export const NamedGroup = { secp256r1: 23 } as const;
/** SignatureAndHashAlgorithm ecdsa_secp256r1_sha256 = (sha256=4, ecdsa=3). */
export const SIG_ECDSA_SHA256 = 0x0403;
/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746). */
export const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export const RECORD_HEADER_LENGTH = 13;
export const HANDSHAKE_HEADER_LENGTH = 12;
