import { execFileSync } from 'node:child_process';
import { type KeyObject, X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex } from '../../../src/firmware/manifest/index.js';

export const FIXTURES = join(import.meta.dirname, '../../fixtures/suit');

export function readHexFixture(name: string): Uint8Array {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  return fromHex(text.split('\n').filter((l) => !l.startsWith('#')).join(''));
}

export const VENDOR = fromHex('fa6b4a53d5ad5fdfbe9de663e4d41ffe');
export const CLASS = fromHex('1492af1425695e48bf429b2d51f2ab45');
export const OTHER_ID = fromHex('00000000000000000000000000000001');

export function ec(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export const SOFTHSM_LIB = '/usr/lib/softhsm/libsofthsm2.so';

/** A throwaway SoftHSM token in a tmp dir; SOFTHSM2_CONF is pointed at it for this process. */
export function createSoftHsmToken(label: string): { dir: string; pin: string; cleanup: () => void } | undefined {
  if (!existsSync(SOFTHSM_LIB)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'softhsm-'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  const pin = '123456';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '654321'], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: 'ignore',
  });
  return { dir, pin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A small PKI made with the openssl CLI (node:crypto cannot issue certificates):
 * root CA -> intermediate CA -> leaf signing keys (valid 365 days), plus a rogue root.
 */
export interface TestPki {
  dir: string;
  rootPem: string;
  rogueRootPem: string;
  leaf(name: string, opts?: { keyType?: 'ec' | 'rsa2048' | 'rsa3072' | 'rsa1024' | 'ed25519'; rogue?: boolean }): {
    privateKey: KeyObject;
    chain: Uint8Array[];
  };
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function der(pemPath: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(pemPath)).raw);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'suit-pki-'));
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  const mkRoot = (name: string) => {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
    openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '3650', '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  const issue = (name: string, issuer: string, ext: string, days: string, extra: string[] = []) => {
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', days, '-extfile', ext, ...extra], dir);
  };
  mkRoot('root');
  mkRoot('rogue');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'inter.key'], dir);
  issue('inter', 'root', 'ca.ext', '3650');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'rogueinter.key'], dir);
  issue('rogueinter', 'rogue', 'ca.ext', '3650');
  return {
    dir,
    rootPem: readFileSync(join(dir, 'root.pem'), 'utf8'),
    rogueRootPem: readFileSync(join(dir, 'rogue.pem'), 'utf8'),
    leaf(name, opts = {}) {
      const keyType = opts.keyType ?? 'ec';
      if (keyType === 'ec') openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
      else if (keyType === 'ed25519') openssl(['genpkey', '-algorithm', 'ed25519', '-out', `${name}.key`], dir);
      else openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${keyType.slice(3)}`, '-out', `${name}.key`], dir);
      const issuer = opts.rogue ? 'rogueinter' : 'inter';
      issue(name, issuer, 'leaf.ext', '365');
      return {
        privateKey: createPrivateKey(readFileSync(join(dir, `${name}.key`))),
        chain: [der(join(dir, `${name}.pem`)), der(join(dir, `${issuer}.pem`))],
      };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
