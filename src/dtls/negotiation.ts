/** Picks the cipher suite and extensions for a ClientHello (pure; no state, no I/O). */
import { ByteReader } from './bytes.js';
import { CIPHER_SUITES, type CipherSuite } from './cipher-suites.js';
import { AlertDescription, CertificateType, EMPTY_RENEGOTIATION_INFO_SCSV, ExtensionType, NamedGroup, SIG_ECDSA_SHA256 } from './constants.js';
import type { EcdsaCredentials } from './credentials.js';
import { parseU16List, parseU8List, type ClientHello } from './hello-messages.js';

export type CertKind = 'x509' | 'rpk';

export interface Negotiated {
  suite: CipherSuite;
  extendedMasterSecret: boolean;
  /** Client signalled RFC 5746 support: we answer with an empty renegotiation_info. */
  secureRenegotiation: boolean;
  ecPointFormats: boolean;
  /** ECDHE suites: what we present, and whether the client asked via RFC 7250 extension. */
  serverCert?: { kind: CertKind; viaExtension: boolean };
  /** ECDHE suites: what we request from the client; undefined = no CertificateRequest. */
  clientCert?: { kind: CertKind; viaExtension: boolean };
  /** RFC 9146: the CID the client wants on records we send it (may be empty). */
  peerCid?: Buffer;
}

export interface ServerCapabilities {
  psk: boolean;
  ecdsa?: EcdsaCredentials;
  cid: boolean;
}

export type NegotiationResult = { ok: true; value: Negotiated } | { ok: false; alert: number; reason: string };

export function negotiate(hello: ClientHello, caps: ServerCapabilities): NegotiationResult {
  try {
    return negotiateOrThrow(hello, caps);
  } catch {
    return { ok: false, alert: AlertDescription.DecodeError, reason: 'malformed extension' };
  }
}

function negotiateOrThrow(hello: ClientHello, caps: ServerCapabilities): NegotiationResult {
  if (hello.clientVersion > 0xfefd) return { ok: false, alert: AlertDescription.ProtocolVersion, reason: 'client offers only DTLS 1.0' };
  if (!hello.compressionMethods.includes(0)) return { ok: false, alert: AlertDescription.IllegalParameter, reason: 'no null compression' };
  const ext = hello.extensions;
  const ecdheUsable = caps.ecdsa !== undefined && ecdheParametersAcceptable(hello);
  const serverCert = caps.ecdsa ? chooseServerCert(ext.get(ExtensionType.ServerCertificateType), caps.ecdsa) : undefined;
  const suite = CIPHER_SUITES.find((s) => {
    if (!hello.cipherSuites.includes(s.id)) return false;
    if (s.keyExchange === 'psk') return caps.psk;
    return ecdheUsable && serverCert !== undefined;
  });
  if (!suite) return { ok: false, alert: AlertDescription.HandshakeFailure, reason: 'no cipher suite in common' };
  const cidData = ext.get(ExtensionType.ConnectionId);
  const negotiated: Negotiated = {
    suite,
    extendedMasterSecret: ext.has(ExtensionType.ExtendedMasterSecret),
    secureRenegotiation: ext.has(ExtensionType.RenegotiationInfo) || hello.cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV),
    ecPointFormats: suite.keyExchange === 'ecdhe_ecdsa' && ext.has(ExtensionType.EcPointFormats),
    ...(caps.cid && cidData ? { peerCid: Buffer.from(new ByteReader(cidData).vec8()) } : {}),
  };
  if (ext.has(ExtensionType.RenegotiationInfo)) {
    const info = ext.get(ExtensionType.RenegotiationInfo)!;
    if (info.length !== 1 || info[0] !== 0) return { ok: false, alert: AlertDescription.HandshakeFailure, reason: 'non-empty renegotiation_info on a new connection' };
  }
  if (suite.keyExchange === 'ecdhe_ecdsa' && caps.ecdsa) {
    negotiated.serverCert = serverCert;
    const clientCert = chooseClientCert(ext.get(ExtensionType.ClientCertificateType), caps.ecdsa);
    if (clientCert) negotiated.clientCert = clientCert;
  }
  return { ok: true, value: negotiated };
}

function ecdheParametersAcceptable(hello: ClientHello): boolean {
  const groups = hello.extensions.get(ExtensionType.SupportedGroups);
  if (groups && !parseU16List(groups).includes(NamedGroup.secp256r1)) return false;
  const formats = hello.extensions.get(ExtensionType.EcPointFormats);
  if (formats && !parseU8List(formats).includes(0)) return false;
  const sigs = hello.extensions.get(ExtensionType.SignatureAlgorithms);
  if (sigs && !parseU16List(sigs).includes(SIG_ECDSA_SHA256)) return false;
  return true;
}

function chooseServerCert(extension: Buffer | undefined, creds: EcdsaCredentials): Negotiated['serverCert'] {
  if (!extension) return creds.chainDer.length > 0 ? { kind: 'x509', viaExtension: false } : undefined;
  const types = parseU8List(extension);
  if (creds.rawPublicKey && types.includes(CertificateType.RawPublicKey)) return { kind: 'rpk', viaExtension: true };
  if (creds.chainDer.length > 0 && types.includes(CertificateType.X509)) return { kind: 'x509', viaExtension: true };
  return undefined;
}

function chooseClientCert(extension: Buffer | undefined, creds: EcdsaCredentials): Negotiated['clientCert'] {
  const canRpk = creds.rawPublicKey && creds.rpkAllowed !== undefined;
  const canX509 = creds.trustAnchors.length > 0;
  if (!extension) return canX509 ? { kind: 'x509', viaExtension: false } : undefined;
  const types = parseU8List(extension);
  if (canRpk && types.includes(CertificateType.RawPublicKey)) return { kind: 'rpk', viaExtension: true };
  if (canX509 && types.includes(CertificateType.X509)) return { kind: 'x509', viaExtension: true };
  return undefined;
}
