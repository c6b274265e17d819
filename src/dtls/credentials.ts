/** The server's ECDSA credentials, parsed once, and client certificate checks (X.509 and RPK). */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { DtlsEcdsaConfig } from './config.js';

export interface EcdsaCredentials {
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER of our key, sent as the raw public key. */
  spkiDer: Buffer;
  chainDer: Buffer[];
  rawPublicKey: boolean;
  trustAnchors: X509Certificate[];
  rpkAllowed?: (spkiDer: Buffer) => boolean;
}

export function loadEcdsaCredentials(config: DtlsEcdsaConfig): EcdsaCredentials {
  const privateKey = createPrivateKey(config.privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('DTLS ecdsa.privateKeyPem must be a P-256 EC key');
  }
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const chainDer = (config.certificateChainPem ?? []).map((pem) => new X509Certificate(pem).raw);
  const trustAnchors = (config.trustAnchorsPem ?? []).map((pem) => new X509Certificate(pem));
  return { privateKey, spkiDer, chainDer, rawPublicKey: config.rawPublicKey ?? false, trustAnchors, rpkAllowed: config.rpkAllowed };
}

export type CertificateCheck = { ok: true; subjectCN: string; publicKey: KeyObject } | { ok: false; alert: number; reason: string };

const BAD_CERTIFICATE = 42;
const UNSUPPORTED_CERTIFICATE = 43;
const CERTIFICATE_EXPIRED = 45;
const UNKNOWN_CA = 48;

/**
 * Verifies a client chain (leaf first): each certificate signed by the next, the last one
 * signed by (or equal to) a trust anchor, every certificate within its validity at `nowMs`,
 * and a P-256 leaf key (the only one our CertificateVerify check accepts).
 */
export function verifyClientChain(chainDer: Buffer[], anchors: X509Certificate[], nowMs: number): CertificateCheck {
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((der) => new X509Certificate(der));
  } catch {
    return { ok: false, alert: BAD_CERTIFICATE, reason: 'unparseable certificate' };
  }
  if (chain.length === 0) return { ok: false, alert: BAD_CERTIFICATE, reason: 'empty certificate chain' };
  for (const cert of chain) {
    if (nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) {
      return { ok: false, alert: CERTIFICATE_EXPIRED, reason: `certificate not valid now: ${cert.subject}` };
    }
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) {
      return { ok: false, alert: BAD_CERTIFICATE, reason: `certificate ${i} not signed by the next` };
    }
  }
  const last = chain[chain.length - 1];
  const anchored = anchors.some(
    (anchor) =>
      anchor.fingerprint256 === last.fingerprint256 ||
      (last.checkIssued(anchor) && last.verify(anchor.publicKey) && nowMs >= Date.parse(anchor.validFrom) && nowMs <= Date.parse(anchor.validTo)),
  );
  if (!anchored) return { ok: false, alert: UNKNOWN_CA, reason: 'chain does not end at a trust anchor' };
  const leaf = chain[0];
  const details = leaf.publicKey.asymmetricKeyDetails;
  if (leaf.publicKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    return { ok: false, alert: UNSUPPORTED_CERTIFICATE, reason: 'client key is not P-256' };
  }
  return { ok: true, subjectCN: commonName(leaf.subject), publicKey: leaf.publicKey };
}

function commonName(subject: string): string {
  const line = subject.split('\n').find((l) => l.startsWith('CN='));
  return line ? line.slice(3) : '';
}

/** A client's raw public key: must be a P-256 SPKI and allowed by the application. */
export function checkRawPublicKey(spkiDer: Buffer, allowed: ((spki: Buffer) => boolean) | undefined): CertificateCheck {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, alert: BAD_CERTIFICATE, reason: 'unparseable raw public key' };
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return { ok: false, alert: UNSUPPORTED_CERTIFICATE, reason: 'raw public key is not P-256' };
  }
  if (!allowed?.(spkiDer)) return { ok: false, alert: BAD_CERTIFICATE, reason: 'raw public key not allowed' };
  return { ok: true, subjectCN: '', publicKey };
}
