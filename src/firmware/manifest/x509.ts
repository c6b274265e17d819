import { KeyObject, X509Certificate } from 'node:crypto';
import { ManifestError } from './errors.js';

/** A root the verifier trusts, and what a signature chaining to it is allowed to speak for. */
export interface TrustAnchor {
  readonly role: string;
  /** PEM or DER of a CA certificate. */
  readonly certificate: string | Uint8Array;
}

export interface ValidatedChain {
  readonly leafKey: KeyObject;
  readonly leafSubject: string;
  readonly role: string;
}

function parseCert(der: Uint8Array | string, what: string): X509Certificate {
  try {
    return new X509Certificate(typeof der === 'string' ? der : Buffer.from(der));
  } catch (err) {
    throw new ManifestError('untrusted-chain', `${what} is not a valid X.509 certificate: ${(err as Error).message}`);
  }
}

function checkDates(cert: X509Certificate, now: number, what: string): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(now >= from && now <= to)) {
    throw new ManifestError('expired-certificate', `${what} (${cert.subject.replace(/\n/g, ', ')}) is valid ${cert.validFrom} to ${cert.validTo}`);
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Validates `chain` (leaf first) up to one of `anchors`: each signature, each validity period
 * at `now`, and that every issuer is a CA (basicConstraints). The leaf itself may not be a CA.
 */
export function validateChain(chain: Uint8Array[], anchors: readonly TrustAnchor[], now: number): ValidatedChain {
  if (chain.length === 0) throw new ManifestError('untrusted-chain', 'empty certificate chain');
  if (chain.length > 8) throw new ManifestError('untrusted-chain', 'certificate chain longer than 8');
  const certs = chain.map((der, i) => parseCert(der, `certificate ${i} of x5chain`));
  const leaf = certs[0];
  if (leaf.ca) throw new ManifestError('untrusted-chain', 'leaf certificate is a CA certificate; signing keys must be end-entity keys');
  for (let i = 0; i < certs.length; i++) checkDates(certs[i], now, `certificate ${i} of x5chain`);
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i + 1].ca) throw new ManifestError('untrusted-chain', `certificate ${i + 1} of x5chain is not a CA but issues certificate ${i}`);
    if (!issuedBy(certs[i], certs[i + 1])) throw new ManifestError('untrusted-chain', `certificate ${i} of x5chain is not signed by certificate ${i + 1}`);
  }
  const top = certs[certs.length - 1];
  for (const anchor of anchors) {
    const root = parseCert(anchor.certificate, `trust anchor for role ${anchor.role}`);
    const isRoot = top.fingerprint256 === root.fingerprint256;
    if (!isRoot && !(root.ca && issuedBy(top, root))) continue;
    checkDates(root, now, `trust anchor for role ${anchor.role}`);
    if (!root.ca && !isRoot) continue;
    return { leafKey: leaf.publicKey, leafSubject: leaf.subject.replace(/\n/g, ', '), role: anchor.role };
  }
  throw new ManifestError('untrusted-chain', `certificate chain for ${leaf.subject.replace(/\n/g, ', ')} does not lead to a trusted root`);
}
