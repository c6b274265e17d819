import { createHash, type KeyObject } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { COSE_ALG } from '../manifest/algorithms.js';
import type { CoseSigner } from '../manifest/cose.js';
import { ManifestError } from '../manifest/errors.js';
import { p256PublicKeyFromPoint } from '../manifest/keys.js';
import type { HsmConfig } from './config.js';

/** DER of the P-256 (prime256v1) curve OID, the CKA_EC_PARAMS value. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

function hsmError(what: string, err: unknown): ManifestError {
  return new ManifestError('hsm-error', `${what}: ${(err as Error)?.message ?? String(err)}`);
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point; some tokens omit the wrapper. */
function unwrapPoint(raw: Buffer): Uint8Array {
  if (raw.length === 65 && raw[0] === 0x04) return new Uint8Array(raw);
  if (raw[0] === 0x04 && raw[1] === 0x41 && raw.length === 67) return new Uint8Array(raw.subarray(2));
  throw new ManifestError('hsm-error', 'unexpected CKA_EC_POINT encoding');
}

/** PKCS#11 CKM_ECDSA returns r||s already; we pad each half to 32 bytes in case a token trims zeros. */
function rawSignature(sig: Buffer): Uint8Array {
  if (sig.length === 64) return new Uint8Array(sig);
  if (sig.length % 2 !== 0 || sig.length > 64) throw new ManifestError('hsm-error', `unexpected ECDSA signature length ${sig.length}`);
  const half = sig.length / 2;
  const out = new Uint8Array(64);
  out.set(sig.subarray(0, half), 32 - half);
  out.set(sig.subarray(half), 64 - half);
  return out;
}

/**
 * A PKCS#11 library is initialised once per process; finalising it ends every session. So
 * modules are shared and reference-counted, and finalised only when the last user leaves.
 */
const loadedModules = new Map<string, { module: graphene.Module; users: number }>();

function acquireModule(path: string): graphene.Module {
  let entry = loadedModules.get(path);
  if (!entry) {
    const module = graphene.Module.load(path, 'pkcs11');
    module.initialize();
    entry = { module, users: 0 };
    loadedModules.set(path, entry);
  }
  entry.users++;
  return entry.module;
}

function releaseModule(path: string): void {
  const entry = loadedModules.get(path);
  if (!entry) return;
  if (--entry.users > 0) return;
  loadedModules.delete(path);
  entry.module.finalize();
}

/**
 * A session on a PKCS#11 token holding an ES256 firmware-signing key. The private key is
 * generated inside the token as sensitive and non-extractable; only the public key leaves it.
 */
export class Pkcs11Session {
  private constructor(
    private readonly session: graphene.Session,
    private readonly config: HsmConfig,
  ) {}

  static open(config: HsmConfig): Pkcs11Session {
    let acquired = false;
    try {
      const mod = acquireModule(config.modulePath);
      acquired = true;
      const slots = mod.getSlots(true);
      let slot: graphene.Slot | undefined;
      for (let i = 0; i < slots.length; i++) {
        const s = slots.items(i);
        if (s.getToken().label.trim() === config.tokenLabel) slot = s;
      }
      if (!slot) throw new Error(`no token labelled '${config.tokenLabel}'`);
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
      try {
        session.login(config.pin, graphene.UserType.USER);
      } catch (err) {
        session.close();
        throw err;
      }
      return new Pkcs11Session(session, config);
    } catch (err) {
      try {
        if (acquired) releaseModule(config.modulePath);
      } catch {
        /* already failing; the original error matters */
      }
      throw hsmError(`cannot open PKCS#11 token '${config.tokenLabel}'`, err);
    }
  }

  private findKey(cls: graphene.ObjectClass): graphene.SessionObject | undefined {
    const found = this.session.find({ class: cls, label: this.config.keyLabel });
    return found.length > 0 ? found.items(0) : undefined;
  }

  /** Creates the signing key pair unless one with the configured label exists; returns its public key. */
  ensureKeyPair(): KeyObject {
    try {
      if (!this.findKey(graphene.ObjectClass.PRIVATE_KEY)) {
        const id = createHash('sha256').update(this.config.keyLabel).digest().subarray(0, 8);
        this.session.generateKeyPair(
          graphene.KeyGenMechanism.EC,
          { keyType: graphene.KeyType.EC, token: true, verify: true, label: this.config.keyLabel, id, paramsEC: P256_PARAMS },
          {
            keyType: graphene.KeyType.EC,
            token: true,
            sign: true,
            private: true,
            sensitive: true,
            extractable: false,
            label: this.config.keyLabel,
            id,
          },
        );
      }
      return this.publicKey();
    } catch (err) {
      throw err instanceof ManifestError ? err : hsmError('key generation failed', err);
    }
  }

  publicKey(): KeyObject {
    const pub = this.findKey(graphene.ObjectClass.PUBLIC_KEY);
    if (!pub) throw new ManifestError('hsm-error', `no public key labelled '${this.config.keyLabel}'`);
    const point = pub.getAttribute({ pointEC: null }).pointEC;
    if (!point) throw new ManifestError('hsm-error', 'public key has no CKA_EC_POINT');
    return p256PublicKeyFromPoint(unwrapPoint(point));
  }

  /** True if the token refuses to hand out the private key (what tier 3 requires). */
  privateKeyIsProtected(): boolean {
    const priv = this.findKey(graphene.ObjectClass.PRIVATE_KEY);
    if (!priv) return false;
    const attrs = priv.getAttribute({ extractable: null, sensitive: null });
    return attrs.extractable === false && attrs.sensitive === true;
  }

  /** Signs with CKM_ECDSA over the SHA-256 digest computed here. */
  signDigest(digest: Uint8Array): Uint8Array {
    const priv = this.findKey(graphene.ObjectClass.PRIVATE_KEY);
    if (!priv) throw new ManifestError('hsm-error', `no private key labelled '${this.config.keyLabel}'`);
    try {
      const sig = this.session.createSign('ECDSA', priv.toType<graphene.PrivateKey>()).once(Buffer.from(digest));
      return rawSignature(sig);
    } catch (err) {
      throw hsmError('signing failed', err);
    }
  }

  /** A COSE ES256 signer backed by this token. */
  signer(opts: { kid?: Uint8Array; x5chain?: Uint8Array[] } = {}): CoseSigner {
    return {
      alg: COSE_ALG.ES256,
      kid: opts.kid,
      x5chain: opts.x5chain,
      sign: async (tbs) => this.signDigest(new Uint8Array(createHash('sha256').update(tbs).digest())),
    };
  }

  close(): void {
    try {
      this.session.logout();
    } catch {
      /* not logged in any more */
    }
    try {
      this.session.close();
    } finally {
      releaseModule(this.config.modulePath);
    }
  }
}
