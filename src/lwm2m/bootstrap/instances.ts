/**
 * The object instances a bootstrap session writes, as LwM2M nodes the shared codecs
 * encode in whichever format the device speaks: Security (0), Server (1) and ACL (2).
 */
import type { ObjectInstance, Resource } from '../node.js';
import type { BootstrapAclEntry, BootstrapSecurityMode, BootstrapServerAccount } from './config.js';

/** Security Mode resource values (LwM2M 1.1 Object 0, resource 2). */
export const SECURITY_MODE_VALUE: Record<BootstrapSecurityMode, number> = { psk: 0, rpk: 1, x509: 2, nosec: 3 };

const EMPTY: Buffer = Buffer.alloc(0);
const bytes = (hex: string | undefined): Buffer => (hex === undefined ? EMPTY : Buffer.from(hex, 'hex'));

/** Security instance of an LwM2M server account (never a bootstrap account: resource 1 is false). */
export function securityInstance(instanceId: number, account: BootstrapServerAccount): ObjectInstance {
  let identity: Buffer = EMPTY;
  let serverKey: Buffer = EMPTY;
  let secret: Buffer = EMPTY;
  switch (account.securityMode) {
    case 'psk':
      identity = Buffer.from(account.pskIdentity ?? '', 'utf8');
      secret = bytes(account.pskKey);
      break;
    case 'rpk':
      identity = bytes(account.clientPublicKey);
      serverKey = bytes(account.serverPublicKey);
      secret = bytes(account.clientPrivateKey);
      break;
    case 'x509':
      identity = bytes(account.clientCertificate);
      serverKey = bytes(account.serverCertificate);
      secret = bytes(account.clientPrivateKey);
      break;
    case 'nosec':
      break;
  }
  return {
    kind: 'instance',
    id: instanceId,
    resources: [
      { kind: 'singleResource', id: 0, type: 'string', value: account.uri },
      { kind: 'singleResource', id: 1, type: 'boolean', value: false },
      { kind: 'singleResource', id: 2, type: 'integer', value: SECURITY_MODE_VALUE[account.securityMode] },
      { kind: 'singleResource', id: 3, type: 'opaque', value: identity },
      { kind: 'singleResource', id: 4, type: 'opaque', value: serverKey },
      { kind: 'singleResource', id: 5, type: 'opaque', value: secret },
      { kind: 'singleResource', id: 10, type: 'integer', value: account.shortId },
    ],
  };
}

export function serverInstance(instanceId: number, account: BootstrapServerAccount): ObjectInstance {
  const resources: Resource[] = [
    { kind: 'singleResource', id: 0, type: 'integer', value: account.shortId },
    { kind: 'singleResource', id: 1, type: 'unsigned', value: account.lifetime },
  ];
  if (account.defaultMinPeriod !== undefined) resources.push({ kind: 'singleResource', id: 2, type: 'integer', value: account.defaultMinPeriod });
  if (account.defaultMaxPeriod !== undefined) resources.push({ kind: 'singleResource', id: 3, type: 'integer', value: account.defaultMaxPeriod });
  resources.push(
    { kind: 'singleResource', id: 6, type: 'boolean', value: account.notificationStoring ?? true },
    { kind: 'singleResource', id: 7, type: 'string', value: account.binding },
  );
  return { kind: 'instance', id: instanceId, resources };
}

export function aclInstance(instanceId: number, entry: BootstrapAclEntry): ObjectInstance {
  const values = new Map<number, number>(
    Object.entries(entry.access)
      .map(([ssid, bits]): [number, number] => [Number(ssid), bits])
      .sort(([a], [b]) => a - b),
  );
  return {
    kind: 'instance',
    id: instanceId,
    resources: [
      { kind: 'singleResource', id: 0, type: 'integer', value: entry.objectId },
      { kind: 'singleResource', id: 1, type: 'integer', value: entry.instanceId },
      { kind: 'multiResource', id: 2, type: 'integer', values },
      { kind: 'singleResource', id: 3, type: 'integer', value: entry.owner },
    ],
  };
}
