/**
 * Deciding whether the server is who we expect: its X.509 chain must end at one of our trust
 * anchors (dates, signatures, P-256 leaf: the same checks the server applies to clients), and
 * a raw public key must be exactly the one we were given. Optionally an X.509 leaf is pinned
 * to that key too.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AlertDescription } from '../constants.js';
import { verifyClientChain } from '../credentials.js';
import type { CertKind } from '../negotiation.js';
import type { DtlsClientEcdsa } from './options.js';

export interface ClientEcdsaCredentials {
  privateKey: KeyObject;
  spkiDer: Buffer;
  chainDer: Buffer[];
  kind: CertKind;
  trustAnchors: X509Certificate[];
  serverPublicKeyDer?: Buffer;
}

export function loadClientEcdsa(config: DtlsClientEcdsa): ClientEcdsaCredentials {
  const privateKey = createPrivateKey(config.privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('DTLS client ecdsa.privateKeyPem must be a P-256 EC key');
  }
  const kind: CertKind = config.rawPublicKey ? 'rpk' : 'x509';
  const trustAnchors = (config.trustAnchorsPem ?? []).map((pem) => new X509Certificate(pem));
  // Refuse to build a client that would accept any server: that is no authentication at all.
  if (kind === 'rpk' && !config.serverPublicKeyDer) throw new Error('DTLS raw public key mode needs ecdsa.serverPublicKeyDer');
  if (kind === 'x509' && trustAnchors.length === 0 && !config.serverPublicKeyDer) {
    throw new Error('DTLS X.509 mode needs ecdsa.trustAnchorsPem (or a pinned serverPublicKeyDer)');
  }
  return {
    privateKey,
    spkiDer: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    chainDer: (config.certificateChainPem ?? []).map((pem) => new X509Certificate(pem).raw),
    kind,
    trustAnchors,
    ...(config.serverPublicKeyDer ? { serverPublicKeyDer: config.serverPublicKeyDer } : {}),
  };
}

export type ServerCheck = { ok: true; publicKey: KeyObject; subjectCN?: string } | { ok: false; alert: number; reason: string };

export function checkServerCertificate(kind: CertKind, items: Buffer[], creds: ClientEcdsaCredentials, nowMs: number): ServerCheck {
  if (kind === 'rpk') {
    if (!creds.serverPublicKeyDer || !items[0].equals(creds.serverPublicKeyDer)) {
      return { ok: false, alert: AlertDescription.BadCertificate, reason: 'server raw public key is not the expected one' };
    }
    try {
      return { ok: true, publicKey: createPublicKey({ key: items[0], format: 'der', type: 'spki' }) };
    } catch {
      return { ok: false, alert: AlertDescription.BadCertificate, reason: 'unparseable server raw public key' };
    }
  }
  if (creds.trustAnchors.length > 0) {
    const check = verifyClientChain(items, creds.trustAnchors, nowMs);
    if (!check.ok) return { ok: false, alert: check.alert, reason: `server certificate: ${check.reason}` };
    if (creds.serverPublicKeyDer && !spkiOf(check.publicKey).equals(creds.serverPublicKeyDer)) {
      return { ok: false, alert: AlertDescription.BadCertificate, reason: 'server certificate key is not the pinned one' };
    }
    return { ok: true, publicKey: check.publicKey, subjectCN: check.subjectCN };
  }
  // Pinned key only (no anchors): the leaf's key must be the pinned one.
  try {
    const leaf = new X509Certificate(items[0]);
    if (!spkiOf(leaf.publicKey).equals(creds.serverPublicKeyDer!)) {
      return { ok: false, alert: AlertDescription.BadCertificate, reason: 'server certificate key is not the pinned one' };
    }
    return { ok: true, publicKey: leaf.publicKey };
  } catch {
    return { ok: false, alert: AlertDescription.BadCertificate, reason: 'unparseable server certificate' };
  }
}

const spkiOf = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
