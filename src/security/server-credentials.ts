/**
 * The server's own DTLS credentials for the ECDHE-ECDSA suites: its P-256 key and
 * certificate chain (--dtls-key/--dtls-cert, or a self-signed pair made in the data
 * directory on first start), and the trust anchors client certificates must chain to
 * (--dtls-ca; without it no client certificate is requested, so X.509 devices cannot log in).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCertificate } from './self-signed-certificate.js';

export const GENERATED_KEY_FILE = 'dtls-server.key.pem';
export const GENERATED_CERT_FILE = 'dtls-server.cert.pem';
const GENERATED_VALIDITY_YEARS = 10;

export interface ServerCredentialsOptions {
  dataDir: string;
  keyFile?: string;
  certFile?: string;
  caFile?: string;
  commonName?: string;
  now?: () => number;
}

export interface ServerCredentials {
  privateKeyPem: string;
  /** Leaf first. */
  certificateChainPem: string[];
  trustAnchorsPem: string[];
  /** True when this start made the key and certificate. */
  generated: boolean;
  keyFile: string;
  certFile: string;
}

export class ServerCredentialsError extends Error {
  override readonly name = 'ServerCredentialsError';
}

export function loadServerCredentials(options: ServerCredentialsOptions): ServerCredentials {
  if ((options.keyFile === undefined) !== (options.certFile === undefined)) {
    throw new ServerCredentialsError('--dtls-key and --dtls-cert go together: give both, or neither to use a self-signed pair in the data directory');
  }
  const keyFile = options.keyFile ?? join(options.dataDir, GENERATED_KEY_FILE);
  const certFile = options.certFile ?? join(options.dataDir, GENERATED_CERT_FILE);
  let generated = false;
  if (options.keyFile === undefined && !existsSync(keyFile) && !existsSync(certFile)) {
    generateSelfSigned(keyFile, certFile, options.commonName ?? 'lwm2m-server', options.now?.() ?? Date.now());
    generated = true;
  }
  const privateKeyPem = readText(keyFile, 'DTLS key');
  const certificateChainPem = pemCertificates(readText(certFile, 'DTLS certificate'), certFile);
  const privateKey = parsePrivateKey(privateKeyPem, keyFile);
  const leaf = new X509Certificate(certificateChainPem[0]);
  if (!leaf.checkPrivateKey(privateKey)) throw new ServerCredentialsError(`the first certificate in ${certFile} is not for the key in ${keyFile}`);
  const trustAnchorsPem = options.caFile === undefined ? [] : pemCertificates(readText(options.caFile, 'DTLS trust anchors'), options.caFile);
  return { privateKeyPem, certificateChainPem, trustAnchorsPem, generated, keyFile, certFile };
}

/** What GET /api/security/server shows: public material only (Leshan names the first two fields). */
export interface ServerCredentialsView {
  /** Hex SubjectPublicKeyInfo DER: what a device configures as the server's raw public key. */
  pubkey: string;
  /** Hex DER of our certificate. */
  certificate: string;
  certificatePem: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  selfSigned: boolean;
  chainLength: number;
  /** Client certificates must chain to one of these; empty = X.509 clients are not accepted. */
  trustAnchors: Array<{ subject: string; fingerprint256: string }>;
}

export function describeServerCredentials(credentials: ServerCredentials): ServerCredentialsView {
  const leaf = new X509Certificate(credentials.certificateChainPem[0]);
  const spki = createPublicKey(credentials.privateKeyPem).export({ format: 'der', type: 'spki' });
  return {
    pubkey: spki.toString('hex'),
    certificate: leaf.raw.toString('hex'),
    certificatePem: leaf.toString(),
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: new Date(leaf.validTo).toISOString(),
    fingerprint256: leaf.fingerprint256,
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    chainLength: credentials.certificateChainPem.length,
    trustAnchors: credentials.trustAnchorsPem.map((pem) => {
      const anchor = new X509Certificate(pem);
      return { subject: oneLine(anchor.subject), fingerprint256: anchor.fingerprint256 };
    }),
  };
}

function generateSelfSigned(keyFile: string, certFile: string, commonName: string, now: number): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + GENERATED_VALIDITY_YEARS);
  // An hour back: a device whose clock runs a little behind still accepts it.
  const certificate = createSelfSignedCertificate({ privateKey, commonName, notBefore: new Date(now - 3_600_000), notAfter });
  // 'wx': never overwrite a key another process wrote meanwhile; 0600: the key is a secret.
  writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  writeFileSync(certFile, certificate, { mode: 0o644, flag: 'wx' });
}

function parsePrivateKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ServerCredentialsError(`${file} holds no readable private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ServerCredentialsError(`${file} must hold an EC P-256 key (the curve of our ECDHE-ECDSA suites)`);
  }
  return key;
}

function pemCertificates(text: string, file: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ServerCredentialsError(`${file} holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ServerCredentialsError(`${file} holds an unreadable certificate: ${(err as Error).message}`);
    }
  }
  return blocks.map((b) => `${b}\n`);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ServerCredentialsError(`cannot read the ${what} file ${file}: ${(err as Error).message}`);
  }
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.split('\n').join(', ');
}
