/** Every rule of the identity binding policy, one case per edge. */
import { describe, expect, it } from 'vitest';
import { checkEndpointAccess, type Channel } from '../../../src/security/endpoint-access.js';
import type { SecurityInfo } from '../../../src/store/types.js';

const SPKI = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004aa', 'hex');
const psk: SecurityInfo = { endpoint: 'dev', mode: 'psk', pskIdentity: 'id-dev', pskKey: Buffer.alloc(16, 1) };
const rpk: SecurityInfo = { endpoint: 'dev', mode: 'rpk', rpkPublicKey: SPKI };
const x509: SecurityInfo = { endpoint: 'dev', mode: 'x509' };
const x509Mapped: SecurityInfo = { endpoint: 'dev', mode: 'x509', x509Subject: 'serial-7' };

const plain: Channel = { secure: false, security: undefined };
const dtls = (mode: 'psk' | 'rpk' | 'x509', identity: string): Channel => ({ secure: true, security: { mode, identity } });
const anonymousDtls: Channel = { secure: true, security: undefined };

describe('checkEndpointAccess', () => {
  it.each([
    ['plain, no info, nosec allowed', plain, undefined, true, { allowed: true }],
    ['plain, no info, nosec off', plain, undefined, false, { allowed: false, reason: 'plain CoAP is not allowed on this server (--allow-nosec is off); endpoint "dev" needs security info' }],
    ['plain, info, nosec allowed', plain, psk, true, { allowed: false, reason: 'endpoint "dev" has psk security info and must use CoAPS' }],
    ['dtls without client authentication', anonymousDtls, psk, true, { allowed: false, reason: 'the DTLS session did not authenticate the client' }],
    ['dtls, no info', dtls('psk', 'id-dev'), undefined, true, { allowed: false, reason: 'endpoint "dev" has no security info, so no DTLS identity may act for it' }],
    ['mode mismatch', dtls('x509', 'dev'), psk, true, { allowed: false, reason: 'endpoint "dev" expects psk, the client authenticated with x509' }],
    ['psk match', dtls('psk', 'id-dev'), psk, false, { allowed: true }],
    ['psk other identity', dtls('psk', 'id-other'), psk, true, { allowed: false, reason: 'PSK identity "id-other" is not the identity of endpoint "dev"' }],
    ['psk info without identity', dtls('psk', 'id-dev'), { endpoint: 'dev', mode: 'psk' } as SecurityInfo, true, { allowed: false, reason: 'PSK identity "id-dev" is not the identity of endpoint "dev"' }],
    ['rpk match', dtls('rpk', SPKI.toString('hex')), rpk, false, { allowed: true }],
    ['rpk other key', dtls('rpk', 'ab'), rpk, true, { allowed: false, reason: 'the client\'s raw public key is not the one of endpoint "dev"' }],
    ['x509 CN = endpoint', dtls('x509', 'dev'), x509, false, { allowed: true }],
    ['x509 other CN', dtls('x509', 'dev2'), x509, true, { allowed: false, reason: 'certificate CN "dev2" is not the expected "dev" of endpoint "dev"' }],
    ['x509 mapped CN', dtls('x509', 'serial-7'), x509Mapped, false, { allowed: true }],
    ['x509 mapped: the endpoint name is no longer enough', dtls('x509', 'dev'), x509Mapped, true, { allowed: false, reason: 'certificate CN "dev" is not the expected "serial-7" of endpoint "dev"' }],
  ] as const)('%s', (_name, channel, info, allowNoSec, expected) => {
    expect(checkEndpointAccess('dev', channel, info, allowNoSec)).toEqual(expected);
  });
});
