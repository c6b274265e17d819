import { createHash, type KeyObject } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { COSE_ALG } from '../manifest/algorithms.js';
import type { CoseSigner } from '../manifest/cose.js';
import { ManifestError } from '../manifest/errors.js';
import { p256PublicKeyFromPoint } from '../manifest/keys.js';
import type { HsmConfig } from './config.js';
import { joinLogin, leaveLogin, tokenKey } from './pkcs11-login.js';
import { P256_SHARED_SECRET_BYTES, SHARED_SECRET_TEMPLATE, ecdhMechanism } from './pkcs11-ecdh.js';

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
 * A session on a PKCS#11 token holding one labelled P-256 key: an ES256 firmware-signing key
 * (server, tier 3) or a key-agreement key (a tier-3 device's unwrapping key). The private key
 * is generated inside the token as sensitive and non-extractable; only the public key leaves it.
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
        joinLogin(session, tokenKey(config.modulePath, config.tokenLabel), config.pin);
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
    return this.ensureEcKeyPair('sign');
  }

  /**
   * Creates a key-agreement (ECDH) key pair unless one with the configured label exists;
   * returns its public key, the one images are encrypted for. The private half can derive
   * but never sign, and never leaves the token.
   */
  ensureAgreementKeyPair(): KeyObject {
    return this.ensureEcKeyPair('derive');
  }

  private ensureEcKeyPair(usage: 'sign' | 'derive'): KeyObject {
    try {
      const existing = this.findKey(graphene.ObjectClass.PRIVATE_KEY);
      if (existing) {
        // A label names one key for one job: a signing key must not quietly serve as a KEK.
        const can = existing.getAttribute({ sign: null, derive: null });
        if (!(usage === 'sign' ? can.sign : can.derive)) {
          throw new ManifestError('hsm-error', `key '${this.config.keyLabel}' exists but is not a ${usage === 'sign' ? 'signing' : 'key-agreement'} key`);
        }
      } else {
        const id = createHash('sha256').update(this.config.keyLabel).digest().subarray(0, 8);
        const signs = usage === 'sign';
        this.session.generateKeyPair(
          graphene.KeyGenMechanism.EC,
          { keyType: graphene.KeyType.EC, token: true, verify: signs, derive: false, label: this.config.keyLabel, id, paramsEC: P256_PARAMS },
          {
            keyType: graphene.KeyType.EC,
            token: true,
            sign: signs,
            derive: !signs,
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
    try {
      const priv = this.findKey(graphene.ObjectClass.PRIVATE_KEY);
      if (!priv) throw new Error(`no private key labelled '${this.config.keyLabel}'`);
      const sig = this.session.createSign('ECDSA', priv.toType<graphene.PrivateKey>()).once(Buffer.from(digest));
      return rawSignature(sig);
    } catch (err) {
      throw hsmError('signing failed', err);
    }
  }

  /**
   * ECDH inside the token (CKM_ECDH1_DERIVE, CKD_NULL) between the labelled private key and
   * `peerPublicKey`; returns the 32-byte shared secret for the caller's KDF (see
   * SHARED_SECRET_TEMPLATE for why it may leave the token). The derived object is destroyed
   * at once so no secrets pile up in the session.
   */
  agree(peerPublicKey: KeyObject): Uint8Array {
    const mechanism = ecdhMechanism(peerPublicKey);
    let secret: graphene.SecretKey | undefined;
    try {
      const priv = this.findKey(graphene.ObjectClass.PRIVATE_KEY);
      if (!priv) throw new Error(`no private key labelled '${this.config.keyLabel}'`);
      secret = this.session.deriveKey(mechanism, priv.toType<graphene.Key>(), SHARED_SECRET_TEMPLATE);
      const value = secret.getAttribute({ value: null }).value;
      if (!value || value.length !== P256_SHARED_SECRET_BYTES) throw new Error(`derived secret has ${value?.length ?? 0} bytes`);
      return new Uint8Array(value);
    } catch (err) {
      throw hsmError('ECDH derivation failed', err);
    } finally {
      try {
        secret?.destroy();
      } catch {
        /* a session object dies with the session anyway */
      }
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
    leaveLogin(this.session, tokenKey(this.config.modulePath, this.config.tokenLabel));
    try {
      this.session.close();
    } finally {
      releaseModule(this.config.modulePath);
    }
  }
}
