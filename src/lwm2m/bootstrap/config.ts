/**
 * A device's bootstrap configuration: which server accounts (Security + Server instances)
 * the bootstrap server writes, what it deletes first, and the optional ACL instances.
 * Operators send it as JSON through the HTTP API; parseBootstrapConfig is the one place
 * that decides what is acceptable, so the API, the store and the sessions agree.
 */
import { InvalidPathError, parsePath, pathLevel } from '../path.js';
import { BootstrapCredentialsError, parseBootstrapAccountSection, redactBootstrapAccountSection, type BootstrapAccountSection } from './secure-credentials.js';

export type BootstrapSecurityMode = 'nosec' | 'psk' | 'rpk' | 'x509';

export interface BootstrapServerAccount {
  /** Short Server ID, 1..65534 (0 and 65535 are reserved by the specification). */
  shortId: number;
  uri: string;
  securityMode: BootstrapSecurityMode;
  lifetime: number;
  binding: string;
  /** psk */
  pskIdentity?: string;
  /** psk, hex; secret. */
  pskKey?: string;
  /** rpk: the device's own public key (hex DER SubjectPublicKeyInfo). */
  clientPublicKey?: string;
  /** rpk and x509: the device's private key (hex DER); secret. */
  clientPrivateKey?: string;
  /** rpk: the LwM2M server's public key (hex DER). */
  serverPublicKey?: string;
  /** x509: the device's certificate (hex DER). */
  clientCertificate?: string;
  /** x509: the LwM2M server's certificate (hex DER). */
  serverCertificate?: string;
  defaultMinPeriod?: number;
  defaultMaxPeriod?: number;
  notificationStoring?: boolean;
  /** Instance ids to write; chosen by the session when absent. */
  securityInstanceId?: number;
  serverInstanceId?: number;
  /** Also put this account's credential into the LwM2M server's security store when a bootstrap is accepted (see secure-credentials.ts). */
  registerCredentials?: boolean;
}

export interface BootstrapAclEntry {
  objectId: number;
  instanceId: number;
  /** Short server id → access bits (1 read, 2 write, 4 execute, 8 delete, 16 create); "0" is the default for other servers. */
  access: Record<string, number>;
  /** Access Control Owner: a short server id, or 65535 when only the bootstrap server may change it. */
  owner: number;
}

export interface BootstrapConfig {
  servers: BootstrapServerAccount[];
  /** The device's bootstrap credentials: with them it must bootstrap over CoAPS (see secure-credentials.ts). */
  bootstrap?: BootstrapAccountSection;
  /** Bootstrap-Delete targets sent before the writes; default ["/0", "/1"] (and "/2" when acl is given). */
  deletePaths?: string[];
  acl?: BootstrapAclEntry[];
  /** Send Bootstrap-Discover first (LwM2M 1.1+ devices only); default true. */
  discover?: boolean;
  /** How many times one request is sent again after a timeout or a 5.xx answer; default 2. */
  retries?: number;
  /** How long to wait for the device's answer to one request; default the server's. */
  requestTimeoutSec?: number;
}

/** A configuration the API must refuse; the message says which field and why. */
export class BootstrapConfigError extends Error {
  override readonly name = 'BootstrapConfigError';
}

const SERVER_FIELDS = new Set([
  'shortId', 'uri', 'securityMode', 'lifetime', 'binding', 'pskIdentity', 'pskKey', 'clientPublicKey', 'clientPrivateKey',
  'serverPublicKey', 'clientCertificate', 'serverCertificate', 'defaultMinPeriod', 'defaultMaxPeriod', 'notificationStoring',
  'securityInstanceId', 'serverInstanceId', 'registerCredentials',
]);
const CONFIG_FIELDS = new Set(['servers', 'deletePaths', 'acl', 'discover', 'retries', 'requestTimeoutSec', 'bootstrap']);
const ACL_FIELDS = new Set(['objectId', 'instanceId', 'access', 'owner']);
const MODES: readonly BootstrapSecurityMode[] = ['nosec', 'psk', 'rpk', 'x509'];
/** Key material each mode needs (beyond pskIdentity for psk). */
const MODE_KEYS: Record<BootstrapSecurityMode, readonly (keyof BootstrapServerAccount)[]> = {
  nosec: [],
  psk: ['pskKey'],
  rpk: ['clientPublicKey', 'clientPrivateKey', 'serverPublicKey'],
  x509: ['clientCertificate', 'clientPrivateKey', 'serverCertificate'],
};
const KEY_FIELDS = ['pskKey', 'clientPublicKey', 'clientPrivateKey', 'serverPublicKey', 'clientCertificate', 'serverCertificate'] as const;
/** Fields never shown back to operators. */
export const SECRET_FIELDS = ['pskKey', 'clientPrivateKey'] as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function integerIn(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BootstrapConfigError(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function rejectUnknown(value: Record<string, unknown>, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new BootstrapConfigError(`${where} has an unknown field "${key}" (known: ${[...known].join(', ')})`);
  }
}

function hex(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new BootstrapConfigError(`${where} must be a non-empty hex string with an even number of digits`);
  }
  return value.toLowerCase();
}

/** coap://host[:port] for nosec, coaps:// for the secure modes. */
function serverUri(value: unknown, mode: BootstrapSecurityMode, where: string): string {
  if (typeof value !== 'string') throw new BootstrapConfigError(`${where} must be a string like "coap://host:5683"`);
  const match = /^(coaps?):\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(value);
  if (!match) throw new BootstrapConfigError(`${where} "${value}" is not a CoAP URI like "coap://host:5683"`);
  if (match[3] !== undefined && (Number(match[3]) < 1 || Number(match[3]) > 65535)) {
    throw new BootstrapConfigError(`${where} "${value}" has an invalid port`);
  }
  const secure = match[1] === 'coaps';
  if (mode === 'nosec' && secure) throw new BootstrapConfigError(`${where}: securityMode "nosec" needs a coap:// URI, got "${value}"`);
  if (mode !== 'nosec' && !secure) throw new BootstrapConfigError(`${where}: securityMode "${mode}" needs a coaps:// URI, got "${value}"`);
  return value;
}

function parseServer(value: unknown, index: number): BootstrapServerAccount {
  const where = `servers[${index}]`;
  if (!isObject(value)) throw new BootstrapConfigError(`${where} must be an object`);
  rejectUnknown(value, SERVER_FIELDS, where);
  const mode = value.securityMode;
  if (typeof mode !== 'string' || !MODES.includes(mode as BootstrapSecurityMode)) {
    throw new BootstrapConfigError(`${where}.securityMode must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const securityMode = mode as BootstrapSecurityMode;
  const account: BootstrapServerAccount = {
    shortId: integerIn(value.shortId, `${where}.shortId`, 1, 65534),
    uri: serverUri(value.uri, securityMode, `${where}.uri`),
    securityMode,
    lifetime: integerIn(value.lifetime, `${where}.lifetime`, 1, 0x7fffffff),
    binding: '',
  };
  if (typeof value.binding !== 'string' || !/^[UTSNQ]+$/.test(value.binding)) {
    throw new BootstrapConfigError(`${where}.binding must be transport letters of U, T, S, N (and Q), got ${JSON.stringify(value.binding)}`);
  }
  account.binding = value.binding;

  if (securityMode === 'psk') {
    if (typeof value.pskIdentity !== 'string' || value.pskIdentity.length === 0) {
      throw new BootstrapConfigError(`${where}.pskIdentity is required for securityMode "psk"`);
    }
    account.pskIdentity = value.pskIdentity;
  } else if (value.pskIdentity !== undefined) {
    throw new BootstrapConfigError(`${where}.pskIdentity only applies to securityMode "psk"`);
  }
  const needed = MODE_KEYS[securityMode];
  for (const field of KEY_FIELDS) {
    const given = value[field];
    if (needed.includes(field)) {
      if (given === undefined) throw new BootstrapConfigError(`${where}.${field} is required for securityMode "${securityMode}"`);
      account[field] = hex(given, `${where}.${field}`);
    } else if (given !== undefined) {
      throw new BootstrapConfigError(`${where}.${field} does not apply to securityMode "${securityMode}"`);
    }
  }
  if (value.defaultMinPeriod !== undefined) account.defaultMinPeriod = integerIn(value.defaultMinPeriod, `${where}.defaultMinPeriod`, 0, 0x7fffffff);
  if (value.defaultMaxPeriod !== undefined) account.defaultMaxPeriod = integerIn(value.defaultMaxPeriod, `${where}.defaultMaxPeriod`, 1, 0x7fffffff);
  if (value.notificationStoring !== undefined) {
    if (typeof value.notificationStoring !== 'boolean') throw new BootstrapConfigError(`${where}.notificationStoring must be true or false`);
    account.notificationStoring = value.notificationStoring;
  }
  if (value.securityInstanceId !== undefined) account.securityInstanceId = integerIn(value.securityInstanceId, `${where}.securityInstanceId`, 0, 65534);
  if (value.serverInstanceId !== undefined) account.serverInstanceId = integerIn(value.serverInstanceId, `${where}.serverInstanceId`, 0, 65534);
  if (value.registerCredentials !== undefined) {
    if (typeof value.registerCredentials !== 'boolean') throw new BootstrapConfigError(`${where}.registerCredentials must be true or false`);
    if (value.registerCredentials && securityMode === 'nosec') throw new BootstrapConfigError(`${where}.registerCredentials needs a psk, rpk or x509 account`);
    account.registerCredentials = value.registerCredentials;
  }
  return account;
}

function parseDeletePath(value: unknown, index: number): string {
  const where = `deletePaths[${index}]`;
  if (typeof value !== 'string') throw new BootstrapConfigError(`${where} must be a path string like "/0"`);
  try {
    const level = pathLevel(parsePath(value));
    if (level !== 'root' && level !== 'object' && level !== 'instance') {
      throw new BootstrapConfigError(`${where} "${value}": Bootstrap-Delete targets "/", an object or an object instance`);
    }
  } catch (err) {
    if (err instanceof InvalidPathError) throw new BootstrapConfigError(`${where}: ${err.message}`);
    throw err;
  }
  return value;
}

function parseAcl(value: unknown, index: number): BootstrapAclEntry {
  const where = `acl[${index}]`;
  if (!isObject(value)) throw new BootstrapConfigError(`${where} must be an object`);
  rejectUnknown(value, ACL_FIELDS, where);
  if (!isObject(value.access)) throw new BootstrapConfigError(`${where}.access must be an object of short server id → access bits, e.g. {"101": 15}`);
  const access: Record<string, number> = {};
  for (const [ssid, bits] of Object.entries(value.access)) {
    if (!/^\d{1,5}$/.test(ssid) || Number(ssid) > 65535) throw new BootstrapConfigError(`${where}.access key "${ssid}" is not a short server id`);
    access[String(Number(ssid))] = integerIn(bits, `${where}.access["${ssid}"]`, 0, 31);
  }
  return {
    objectId: integerIn(value.objectId, `${where}.objectId`, 0, 65534),
    instanceId: integerIn(value.instanceId, `${where}.instanceId`, 0, 65534),
    access,
    owner: integerIn(value.owner, `${where}.owner`, 0, 65535),
  };
}

function unique(values: number[], what: string): void {
  const seen = new Set<number>();
  for (const value of values) {
    if (seen.has(value)) throw new BootstrapConfigError(`${what} ${value} is used twice`);
    seen.add(value);
  }
}

/** Validates and normalises (hex in lower case); throws BootstrapConfigError with the reason. */
export function parseBootstrapConfig(value: unknown): BootstrapConfig {
  if (!isObject(value)) throw new BootstrapConfigError('the configuration must be a JSON object like {"servers": [...]}');
  rejectUnknown(value, CONFIG_FIELDS, 'the configuration');
  if (!Array.isArray(value.servers) || value.servers.length === 0) {
    throw new BootstrapConfigError('servers must be a non-empty array of server accounts');
  }
  const config: BootstrapConfig = { servers: value.servers.map(parseServer) };
  unique(config.servers.map((s) => s.shortId), 'shortId');
  unique(config.servers.flatMap((s) => (s.securityInstanceId === undefined ? [] : [s.securityInstanceId])), 'securityInstanceId');
  unique(config.servers.flatMap((s) => (s.serverInstanceId === undefined ? [] : [s.serverInstanceId])), 'serverInstanceId');
  // The security store holds one credential per endpoint.
  if (config.servers.filter((s) => s.registerCredentials === true).length > 1) throw new BootstrapConfigError('registerCredentials may be true on one server account only');
  if (value.bootstrap !== undefined) {
    try {
      config.bootstrap = parseBootstrapAccountSection(value.bootstrap);
    } catch (err) {
      if (err instanceof BootstrapCredentialsError) throw new BootstrapConfigError(err.message);
      throw err;
    }
  }
  if (value.deletePaths !== undefined) {
    if (!Array.isArray(value.deletePaths)) throw new BootstrapConfigError('deletePaths must be an array of paths like ["/0", "/1"]');
    config.deletePaths = value.deletePaths.map(parseDeletePath);
  }
  if (value.acl !== undefined) {
    if (!Array.isArray(value.acl)) throw new BootstrapConfigError('acl must be an array of ACL entries');
    config.acl = value.acl.map(parseAcl);
  }
  if (value.discover !== undefined) {
    if (typeof value.discover !== 'boolean') throw new BootstrapConfigError('discover must be true or false');
    config.discover = value.discover;
  }
  if (value.retries !== undefined) config.retries = integerIn(value.retries, 'retries', 0, 10);
  if (value.requestTimeoutSec !== undefined) {
    const t = value.requestTimeoutSec;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > 3600) {
      throw new BootstrapConfigError(`requestTimeoutSec must be a number of seconds above 0 and at most 3600, got ${JSON.stringify(t)}`);
    }
    config.requestTimeoutSec = t;
  }
  return config;
}

/** The configuration as operators may see it: secrets replaced by whether they are set. */
export function redactBootstrapConfig(config: BootstrapConfig): Record<string, unknown> {
  const servers = config.servers.map((server) => {
    const shown: Record<string, unknown> = { ...server };
    for (const field of SECRET_FIELDS) {
      if (field in shown) {
        delete shown[field];
        shown[`has${field[0].toUpperCase()}${field.slice(1)}`] = true;
      }
    }
    return shown;
  });
  return { ...config, servers, ...(config.bootstrap ? { bootstrap: redactBootstrapAccountSection(config.bootstrap) } : {}) };
}

/** Default Bootstrap-Delete targets: the server accounts (the device keeps its bootstrap account), and ACLs when we write them. */
export function deletePathsOf(config: BootstrapConfig): string[] {
  return config.deletePaths ?? (config.acl && config.acl.length > 0 ? ['/0', '/1', '/2'] : ['/0', '/1']);
}
