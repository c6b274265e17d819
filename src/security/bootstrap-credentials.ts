/**
 * Bootstrap credentials in memory, for the bootstrap server's DTLS listener. They live in
 * the devices' bootstrap configurations (see lwm2m/bootstrap/secure-credentials.ts); the
 * DTLS callbacks run synchronously inside a handshake and cannot read the store, so every
 * configuration is indexed at start and every PUT/DELETE goes through `tracking(store)`,
 * which writes the store first and the index after, one change at a time.
 *
 * The index also keeps, per endpoint, the server credential a `registerCredentials`
 * account asks to be put into the LwM2M server's security store.
 */
import { X509Certificate } from 'node:crypto';
import { parseBootstrapConfig, type BootstrapConfig } from '../lwm2m/bootstrap/config.js';
import { StoreConflictError, type BootstrapConfigStore, type JsonObject, type SecurityInfo } from '../store/types.js';
import { expectedCertificateCN } from './endpoint-access.js';

interface Entry {
  /** The bootstrap credential, shaped like the security store's info so the same access policy applies. */
  bootstrap?: SecurityInfo;
  /** What a registerCredentials account puts into the server's security store. */
  register?: SecurityInfo;
}

export class BootstrapCredentialIndex {
  private readonly byEndpoint = new Map<string, Entry>();
  private readonly byPskIdentity = new Map<string, SecurityInfo>();
  private readonly byRpkHex = new Map<string, SecurityInfo>();
  private readonly byCertificateCN = new Map<string, SecurityInfo>();
  private tail: Promise<unknown> = Promise.resolve();

  /** Reads every configuration of the store; an unreadable one is skipped (the bootstrap server refuses it anyway). */
  static async load(configs: Pick<BootstrapConfigStore, 'list'>): Promise<BootstrapCredentialIndex> {
    const index = new BootstrapCredentialIndex();
    for (const { endpoint, config } of await configs.list()) {
      const parsed = tryParse(config);
      if (parsed) index.set(endpoint, parsed);
    }
    return index;
  }

  /** The endpoint's bootstrap credential (undefined: it may bootstrap over plain CoAP, if the server allows). */
  get(endpoint: string): SecurityInfo | undefined {
    return this.byEndpoint.get(endpoint)?.bootstrap;
  }

  /** The credential to register in the server's security store when this endpoint bootstraps. */
  serverCredentialOf(endpoint: string): SecurityInfo | undefined {
    return this.byEndpoint.get(endpoint)?.register;
  }

  pskFor(identity: string): Buffer | undefined {
    return this.byPskIdentity.get(identity)?.pskKey;
  }

  rpkAllowed(spkiDer: Buffer): boolean {
    return this.byRpkHex.has(spkiDer.toString('hex'));
  }

  /** The same store, with every change also applied to this index (after the store accepted it). */
  tracking(store: BootstrapConfigStore): BootstrapConfigStore {
    return {
      get: (endpoint) => store.get(endpoint),
      list: () => store.list(),
      put: (endpoint, config) =>
        this.serialized(async () => {
          const parsed = tryParse(config);
          const entry = parsed ? entryOf(endpoint, parsed) : {};
          this.checkConflicts(endpoint, entry);
          await store.put(endpoint, config);
          this.replace(endpoint, entry);
        }),
      remove: (endpoint) =>
        this.serialized(async () => {
          const removed = await store.remove(endpoint);
          this.replace(endpoint, undefined);
          return removed;
        }),
    };
  }

  private set(endpoint: string, config: BootstrapConfig): void {
    const entry = entryOf(endpoint, config);
    // At load a duplicate identity (written before this check existed) keeps the first owner.
    try {
      this.checkConflicts(endpoint, entry);
    } catch {
      return;
    }
    this.replace(endpoint, entry);
  }

  /** One bootstrap credential must never speak for two endpoints. */
  private checkConflicts(endpoint: string, entry: Entry): void {
    const info = entry.bootstrap;
    if (!info) return;
    const other = (found: SecurityInfo | undefined): string | undefined => (found && found.endpoint !== endpoint ? found.endpoint : undefined);
    const owner =
      info.mode === 'psk' ? other(this.byPskIdentity.get(info.pskIdentity ?? ''))
      : info.mode === 'rpk' ? other(this.byRpkHex.get(info.rpkPublicKey?.toString('hex') ?? ''))
      : other(this.byCertificateCN.get(expectedCertificateCN(info)));
    if (owner !== undefined) throw new StoreConflictError(`this bootstrap ${info.mode} credential already belongs to endpoint "${owner}"`);
  }

  private replace(endpoint: string, entry: Entry | undefined): void {
    const before = this.byEndpoint.get(endpoint)?.bootstrap;
    if (before) {
      const drop = (map: Map<string, SecurityInfo>, key: string | undefined): void => {
        if (key !== undefined && map.get(key) === before) map.delete(key);
      };
      drop(this.byPskIdentity, before.pskIdentity);
      drop(this.byRpkHex, before.rpkPublicKey?.toString('hex'));
      if (before.mode === 'x509') drop(this.byCertificateCN, expectedCertificateCN(before));
    }
    if (!entry || (!entry.bootstrap && !entry.register)) {
      this.byEndpoint.delete(endpoint);
      return;
    }
    this.byEndpoint.set(endpoint, entry);
    const info = entry.bootstrap;
    if (info?.mode === 'psk' && info.pskIdentity !== undefined) this.byPskIdentity.set(info.pskIdentity, info);
    if (info?.mode === 'rpk' && info.rpkPublicKey !== undefined) this.byRpkHex.set(info.rpkPublicKey.toString('hex'), info);
    if (info?.mode === 'x509') this.byCertificateCN.set(expectedCertificateCN(info), info);
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function tryParse(config: JsonObject): BootstrapConfig | undefined {
  try {
    return parseBootstrapConfig(config);
  } catch {
    return undefined;
  }
}

function entryOf(endpoint: string, config: BootstrapConfig): Entry {
  const entry: Entry = {};
  const security = config.bootstrap?.security;
  if (security?.mode === 'psk') entry.bootstrap = { endpoint, mode: 'psk', pskIdentity: security.identity, pskKey: Buffer.from(security.key, 'hex') };
  if (security?.mode === 'rpk') entry.bootstrap = { endpoint, mode: 'rpk', rpkPublicKey: Buffer.from(security.publicKey, 'hex') };
  if (security?.mode === 'x509') entry.bootstrap = security.subject === undefined ? { endpoint, mode: 'x509' } : { endpoint, mode: 'x509', x509Subject: security.subject };
  const account = config.servers.find((s) => s.registerCredentials === true);
  if (account?.securityMode === 'psk') entry.register = { endpoint, mode: 'psk', pskIdentity: account.pskIdentity, pskKey: Buffer.from(account.pskKey ?? '', 'hex') };
  if (account?.securityMode === 'rpk') entry.register = { endpoint, mode: 'rpk', rpkPublicKey: Buffer.from(account.clientPublicKey ?? '', 'hex') };
  if (account?.securityMode === 'x509') {
    const cn = certificateCN(account.clientCertificate ?? '');
    entry.register = cn === undefined || cn === endpoint ? { endpoint, mode: 'x509' } : { endpoint, mode: 'x509', x509Subject: cn };
  }
  return entry;
}

/** The subject CN of the device certificate the bootstrap hands out: what the server must expect from it. */
function certificateCN(hexDer: string): string | undefined {
  try {
    const subject = new X509Certificate(Buffer.from(hexDer, 'hex')).subject;
    return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1];
  } catch {
    return undefined;
  }
}
