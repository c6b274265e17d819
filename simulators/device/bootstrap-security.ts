/**
 * What a simulated device makes of the credentials a bootstrap wrote into a Security
 * instance (LwM2M Object 0: mode 2, identity 3, server key 4, secret 5): the DTLS
 * settings it then registers with. Keys arrive as DER bytes; our DTLS client takes PEM.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { DeviceSecurity } from './dtls-transport.js';

/** Security Mode values of Object 0 resource 2. */
export const SECURITY_MODE = { psk: 0, rpk: 1, x509: 2, nosec: 3 } as const;

export interface WrittenSecurity {
  mode: number;
  identity: Buffer;
  serverKey: Buffer;
  secret: Buffer;
}

/** The DTLS settings for a written account, or the reason the device cannot use it. */
export function deviceSecurityFrom(written: WrittenSecurity): DeviceSecurity | string {
  switch (written.mode) {
    case SECURITY_MODE.psk:
      if (written.identity.length === 0 || written.secret.length === 0) return 'a PSK account needs an identity and a key';
      return { mode: 'psk', identity: written.identity.toString('utf8'), key: Buffer.from(written.secret) };
    case SECURITY_MODE.rpk:
      try {
        return { mode: 'rpk', privateKeyPem: privateKeyPem(written.secret), serverPublicKeyDer: Buffer.from(written.serverKey) };
      } catch (error) {
        return `the raw public key account is unusable: ${(error as Error).message}`;
      }
    case SECURITY_MODE.x509:
      try {
        return {
          mode: 'x509',
          privateKeyPem: privateKeyPem(written.secret),
          certificateChainPem: [new X509Certificate(written.identity).toString()],
          trustAnchorsPem: [new X509Certificate(written.serverKey).toString()],
        };
      } catch (error) {
        return `the certificate account is unusable: ${(error as Error).message}`;
      }
    default:
      return `security mode ${written.mode} is not supported by this simulated device`;
  }
}

/** LwM2M servers hand out PKCS#8 or SEC1 (RFC 5915) DER; both become PKCS#8 PEM. */
function privateKeyPem(der: Buffer): string {
  let key;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    key = createPrivateKey({ key: der, format: 'der', type: 'sec1' });
  }
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}
