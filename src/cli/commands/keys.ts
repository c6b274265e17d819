import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Pkcs11Session } from '../../firmware/hsm/index.js';

const KEY_TYPES = ['es256', 'ed25519', 'rsa3072', 'hmac', 'aes-kw'] as const;
type KeyType = (typeof KEY_TYPES)[number];

interface GenerateOptions {
  type: KeyType;
  out?: string;
  pkcs11?: string;
  token?: string;
  pin?: string;
  label: string;
}

function writeOrPrint(path: string | undefined, content: string, mode = 0o600): void {
  if (path) writeFileSync(path, content, { mode });
  else process.stdout.write(content);
}

function generate(opts: GenerateOptions): void {
  if (!KEY_TYPES.includes(opts.type)) throw new Error(`unknown key type '${opts.type}' (one of ${KEY_TYPES.join(', ')})`);
  if (opts.pkcs11) {
    if (opts.type !== 'es256') throw new Error('only es256 keys can be generated inside a PKCS#11 token');
    const pin = opts.pin ?? process.env.LWM2M_PKCS11_PIN;
    if (!opts.token || !pin) throw new Error('--pkcs11 needs --token LABEL and --pin (or LWM2M_PKCS11_PIN)');
    const session = Pkcs11Session.open({ modulePath: opts.pkcs11, tokenLabel: opts.token, pin, keyLabel: opts.label });
    try {
      const pub = session.ensureKeyPair().export({ type: 'spki', format: 'pem' }) as string;
      writeOrPrint(opts.out ? `${opts.out}.pub.pem` : undefined, pub, 0o644);
      process.stderr.write(`key '${opts.label}' is held in token '${opts.token}' (non-extractable); public key ${opts.out ? `written to ${opts.out}.pub.pem` : 'printed above'}\n`);
    } finally {
      session.close();
    }
    return;
  }
  if (opts.type === 'hmac' || opts.type === 'aes-kw') {
    const secret = randomBytes(opts.type === 'hmac' ? 32 : 16).toString('hex');
    writeOrPrint(opts.out, `${secret}\n`);
    return;
  }
  const pair =
    opts.type === 'es256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : opts.type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 3072 });
  const priv = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pub = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if (opts.out) {
    writeFileSync(opts.out, priv, { mode: 0o600 });
    writeFileSync(`${opts.out}.pub.pem`, pub, { mode: 0o644 });
    process.stderr.write(`private key written to ${opts.out}, public key to ${opts.out}.pub.pem\n`);
  } else {
    process.stdout.write(priv + pub);
  }
}

/** `keys generate --type es256|ed25519|rsa3072|hmac|aes-kw [--out FILE] [--pkcs11 MODULE --token LABEL --pin PIN]` */
export function registerKeysCommand(program: Command): void {
  const keys = program.commands.find((c) => c.name() === 'keys') ?? program.command('keys').description('manage firmware signing and encryption keys');
  keys
    .command('generate')
    .description('generate a signing key (PEM), a MAC or key-wrap secret (hex), or a key inside a PKCS#11 token')
    .requiredOption('--type <type>', `key type: ${KEY_TYPES.join(', ')}`)
    .option('--out <file>', 'where to write the key (public key goes to FILE.pub.pem); stdout if absent')
    .option('--pkcs11 <module>', 'generate inside this PKCS#11 module instead (es256 only)')
    .option('--token <label>', 'PKCS#11 token label')
    .option('--pin <pin>', 'PKCS#11 user PIN (or LWM2M_PKCS11_PIN)')
    .option('--label <label>', 'label of the key inside the token', 'firmware-signing')
    .action((opts: GenerateOptions) => {
      try {
        generate(opts);
      } catch (err) {
        process.stderr.write(`keys generate failed: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
