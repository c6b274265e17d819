import { type KeyObject, X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import {
  COSE_ALG,
  type CoseAuthenticator,
  ManifestError,
  type PayloadDecryptionKey,
  type PayloadRecipient,
  type TrustAnchor,
  type TrustedKey,
  buildEnvelope,
  describeManifest,
  encryptImage,
  fromHex,
  openImage,
  sha256Digest,
  softwareSigner,
  verifyEnvelope,
} from '../../firmware/manifest/index.js';

/** `path` or `path#kid`; the kid defaults to the file name without extensions. */
function splitSpec(spec: string): { path: string; kid: string } {
  const hash = spec.lastIndexOf('#');
  const path = hash > 0 ? spec.slice(0, hash) : spec;
  const kid = hash > 0 ? spec.slice(hash + 1) : basename(path).replace(/\..*$/, '');
  return { path, kid };
}

function readHexSecret(text: string, what: string): Uint8Array {
  const clean = text.trim();
  if (!/^[0-9a-fA-F]+$/.test(clean) || clean.length % 2 !== 0) throw new Error(`${what} is neither a PEM key nor a hex secret`);
  return fromHex(clean);
}

function algFor(key: KeyObject, rsaAlg: 'PS256' | 'RS256'): number {
  if (key.asymmetricKeyType === 'ec') return COSE_ALG.ES256;
  if (key.asymmetricKeyType === 'ed25519') return COSE_ALG.EdDSA;
  if (key.asymmetricKeyType === 'rsa') return rsaAlg === 'PS256' ? COSE_ALG.PS256 : COSE_ALG.RS256;
  throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
}

function pemBlocks(text: string, label: string): string[] {
  return text.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g')) ?? [];
}

function loadAuthenticator(spec: string, chainFile: string | undefined, rsaAlg: 'PS256' | 'RS256'): CoseAuthenticator {
  const { path, kid } = splitSpec(spec);
  const text = readFileSync(path, 'utf8');
  const kidBytes = new TextEncoder().encode(kid);
  if (text.includes('PRIVATE KEY-----')) {
    const key = createPrivateKey(text);
    const x5chain = chainFile ? pemBlocks(readFileSync(chainFile, 'utf8'), 'CERTIFICATE').map((p) => new Uint8Array(new X509Certificate(p).raw)) : undefined;
    // With a certificate chain the chain identifies the signer; the kid is still sent for logs.
    return softwareSigner(key, algFor(key, rsaAlg), { kid: kidBytes, x5chain });
  }
  const secret = readHexSecret(text, path);
  if (secret.length !== 32) throw new Error(`${path}: HMAC keys must be 32 bytes`);
  return { alg: COSE_ALG.HMAC256, kid: kidBytes, secret };
}

function loadRecipient(spec: string): PayloadRecipient {
  const { path, kid } = splitSpec(spec);
  const text = readFileSync(path, 'utf8');
  const kidBytes = new TextEncoder().encode(kid);
  if (text.includes('-----BEGIN')) return { kind: 'ecdh-es', publicKey: createPublicKey(text), kid: kidBytes };
  const kek = readHexSecret(text, path);
  if (kek.length !== 16) throw new Error(`${path}: AES-KW keys must be 16 bytes`);
  return { kind: 'aes-kw', kek, kid: kidBytes };
}

function loadDecryptionKey(path: string): PayloadDecryptionKey {
  const text = readFileSync(path, 'utf8');
  if (text.includes('PRIVATE KEY-----')) return { kind: 'ecdh-es', privateKey: createPrivateKey(text) };
  return { kind: 'aes-kw', kek: readHexSecret(text, path) };
}

/** `--trust FILE[#kid][@role]`: a CA certificate (anchor), a public key, or a hex MAC secret. */
function loadTrust(specs: string[]): { keys: TrustedKey[]; trustAnchors: TrustAnchor[] } {
  const keys: TrustedKey[] = [];
  const trustAnchors: TrustAnchor[] = [];
  for (const raw of specs) {
    const at = raw.lastIndexOf('@');
    const role = at > 0 ? raw.slice(at + 1) : 'author';
    const { path, kid } = splitSpec(at > 0 ? raw.slice(0, at) : raw);
    const text = readFileSync(path, 'utf8');
    const certs = pemBlocks(text, 'CERTIFICATE');
    if (certs.length > 0) certs.forEach((certificate) => trustAnchors.push({ role, certificate }));
    else if (text.includes('-----BEGIN')) keys.push({ kid, role, publicKey: createPublicKey(text) });
    else keys.push({ kid, role, secret: readHexSecret(text, path) });
  }
  return { keys, trustAnchors };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseId(hex: string, what: string): Uint8Array {
  const clean = hex.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(clean)) throw new Error(`${what} must be a UUID (16 bytes hex)`);
  return fromHex(clean);
}

interface SignOptions {
  key: string[];
  chain: string[];
  sequence: string;
  vendor: string;
  class: string;
  encryptFor?: string;
  compress?: boolean;
  out?: string;
  uri?: string;
  name?: string;
  version?: string;
  rsa: 'PS256' | 'RS256';
}

async function sign(imagePath: string, opts: SignOptions): Promise<void> {
  const image = new Uint8Array(readFileSync(imagePath));
  const sequenceNumber = Number(opts.sequence);
  if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0) throw new Error('--sequence must be a non-negative integer');
  if (opts.key.length === 0) throw new Error('at least one --key is required');
  const auth = opts.key.map((k, i) => loadAuthenticator(k, opts.chain[i], opts.rsa));
  let encryptionInfo: Uint8Array | undefined;
  const out = opts.out ?? `${imagePath}.suit`;
  if (opts.encryptFor) {
    const enc = await encryptImage(image, loadRecipient(opts.encryptFor), { compress: opts.compress });
    encryptionInfo = enc.encryptionInfo;
    writeFileSync(`${out}.payload`, enc.ciphertext);
  } else if (opts.compress) {
    throw new Error('--compress is only supported together with --encrypt-for');
  }
  const envelope = await buildEnvelope(
    {
      sequenceNumber,
      vendorId: parseId(opts.vendor, '--vendor'),
      classId: parseId(opts.class, '--class'),
      imageDigest: sha256Digest(image),
      imageSize: image.length,
      uri: opts.uri,
      encryptionInfo,
      compression: opts.encryptFor && opts.compress ? 'zlib' : undefined,
      text: opts.name || opts.version ? { name: opts.name, version: opts.version } : undefined,
    },
    auth,
  );
  writeFileSync(out, envelope);
  process.stdout.write(`envelope written to ${out} (${envelope.length} bytes)${opts.encryptFor ? `; encrypted payload written to ${out}.payload` : ''}\n`);
}

interface VerifyCliOptions {
  trust: string[];
  image?: string;
  deviceKey?: string;
  require: string[];
}

async function verify(envelopePath: string, opts: VerifyCliOptions): Promise<void> {
  const { keys, trustAnchors } = loadTrust(opts.trust);
  const required = opts.require.length > 0 ? opts.require.map((role) => ({ role })) : [{}];
  const m = await verifyEnvelope(new Uint8Array(readFileSync(envelopePath)), { keys, trustAnchors, policy: { required } });
  if (opts.image) {
    await openImage(m, new Uint8Array(readFileSync(opts.image)), opts.deviceKey ? loadDecryptionKey(opts.deviceKey) : undefined);
  }
  process.stdout.write(`manifest OK${opts.image ? ', image OK' : ''}\n${describeManifest(m)}\n`);
}

function fail(what: string, err: unknown): void {
  const message = err instanceof ManifestError ? err.message : (err as Error)?.message ?? String(err);
  process.stderr.write(`${what} failed: ${message}\n`);
  process.exitCode = 1;
}

/** Adds `firmware sign` and `firmware verify` to the `firmware` command group (created if absent). */
export function registerFirmwareSignCommands(program: Command): void {
  const firmware = program.commands.find((c) => c.name() === 'firmware') ?? program.command('firmware').description('firmware images and manifests');
  firmware
    .command('sign')
    .description('build a signed SUIT envelope for IMAGE')
    .argument('<image>', 'firmware image file')
    .option('--key <file[#kid]>', 'signing key (PEM private key) or HMAC secret (hex); repeat for co-signers', collect, [])
    .option('--chain <pem>', 'certificate chain (leaf first) for the --key at the same position', collect, [])
    .requiredOption('--sequence <n>', 'manifest sequence number (must exceed the installed one)')
    .requiredOption('--vendor <uuid>', 'vendor id')
    .requiredOption('--class <uuid>', 'device class id')
    .option('--encrypt-for <file[#kid]>', "device's P-256 public key (PEM) or 16-byte AES-KW key (hex)")
    .option('--compress', 'zlib-compress before encrypting')
    .option('--uri <uri>', 'where devices fetch the payload')
    .option('--name <name>', 'image name (severable text)')
    .option('--version <version>', 'image version (severable text)')
    .option('--rsa <alg>', 'algorithm for RSA keys: PS256 or RS256', 'PS256')
    .option('--out <file>', 'envelope output (default IMAGE.suit)')
    .action(async (image: string, opts: SignOptions) => {
      try {
        await sign(image, opts);
      } catch (err) {
        fail('firmware sign', err);
      }
    });
  firmware
    .command('verify')
    .description('verify a SUIT envelope (and optionally its image) and print a summary')
    .argument('<envelope>', 'envelope file')
    .option('--trust <file[#kid][@role]>', 'CA certificate, public key or HMAC secret to trust; repeatable', collect, [])
    .option('--require <role>', 'a role that must have signed; repeatable', collect, [])
    .option('--image <file>', 'payload to check against the manifest (decrypted with --device-key if encrypted)')
    .option('--device-key <file>', 'device private key (PEM) or AES-KW key (hex) to decrypt the payload')
    .action(async (envelope: string, opts: VerifyCliOptions) => {
      try {
        await verify(envelope, opts);
      } catch (err) {
        fail('firmware verify', err);
      }
    });
}
