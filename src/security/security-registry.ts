/**
 * The security info of every endpoint, held in memory in front of the store. The DTLS
 * callbacks (PSK lookup, raw public key allowed list) and the registration check run
 * synchronously on the hot path and cannot wait for a store, so the registry loads every
 * entry at start and every change goes through it: written to the store first, then to the
 * index, one change at a time, so the index never holds what the store refused and two
 * concurrent changes land in the same order in both.
 *
 * Only one server node writes through this registry; several nodes over one shared store
 * would each need to hear the others' changes (not built yet).
 */
import type { SecurityInfo, SecurityInfoSummary, SecurityStore } from '../store/types.js';
import { StoreConflictError } from '../store/types.js';
import { summarizeSecurityInfo } from '../store/index.js';
import { expectedCertificateCN } from './endpoint-access.js';

export type SecurityChange = { endpoint: string; before: SecurityInfo | undefined; after: SecurityInfo | undefined };

export class SecurityRegistry {
  private readonly byEndpoint = new Map<string, SecurityInfo>();
  private readonly byPskIdentity = new Map<string, SecurityInfo>();
  // Hex of the SubjectPublicKeyInfo DER: the same text the CoAP layer reports for an RPK peer.
  private readonly byRpkHex = new Map<string, SecurityInfo>();
  private readonly byCertificateCN = new Map<string, SecurityInfo>();
  private readonly listeners = new Set<(change: SecurityChange) => void>();
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: SecurityStore) {}

  /** Reads every entry of the store into memory. */
  static async load(store: SecurityStore): Promise<SecurityRegistry> {
    const registry = new SecurityRegistry(store);
    for (const summary of await store.list()) {
      const info = await store.get(summary.endpoint);
      if (info) registry.index(info);
    }
    return registry;
  }

  get size(): number {
    return this.byEndpoint.size;
  }

  get(endpoint: string): SecurityInfo | undefined {
    return this.byEndpoint.get(endpoint);
  }

  /** For the DTLS PSK callback: the key of a known identity. */
  pskFor(identity: string): Buffer | undefined {
    return this.byPskIdentity.get(identity)?.pskKey;
  }

  /** For the DTLS raw public key callback: is this key some endpoint's? */
  rpkAllowed(spkiDer: Buffer): boolean {
    return this.byRpkHex.has(spkiDer.toString('hex'));
  }

  /** Every entry as operators may see it, sorted by endpoint. */
  list(): SecurityInfoSummary[] {
    return [...this.byEndpoint.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0)).map(summarizeSecurityInfo);
  }

  entries(): SecurityInfo[] {
    return [...this.byEndpoint.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  }

  /** Called after each change is stored and indexed (e.g. to end sessions of a replaced credential). */
  onChange(listener: (change: SecurityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Adds or replaces an endpoint's info. Throws StoreConflictError when the credential
   * already speaks for another endpoint (the same PSK identity, public key or certificate
   * CN would let one device act as two).
   */
  put(info: SecurityInfo): Promise<void> {
    return this.serialized(async () => {
      this.checkConflicts(info);
      await this.store.put(info);
      const before = this.byEndpoint.get(info.endpoint);
      if (before) this.unindex(before);
      this.index(info);
      this.notify({ endpoint: info.endpoint, before, after: info });
    });
  }

  /** Removes an endpoint's info; false when it had none. */
  remove(endpoint: string): Promise<boolean> {
    return this.serialized(async () => {
      const removed = await this.store.remove(endpoint);
      const before = this.byEndpoint.get(endpoint);
      if (before) this.unindex(before);
      if (before) this.notify({ endpoint, before, after: undefined });
      return removed || before !== undefined;
    });
  }

  private checkConflicts(info: SecurityInfo): void {
    const owner = (found: SecurityInfo | undefined): string | undefined =>
      found !== undefined && found.endpoint !== info.endpoint ? found.endpoint : undefined;
    if (info.mode === 'psk' && info.pskIdentity !== undefined) {
      const other = owner(this.byPskIdentity.get(info.pskIdentity));
      if (other) throw new StoreConflictError(`PSK identity "${info.pskIdentity}" already belongs to endpoint "${other}"`);
    }
    if (info.mode === 'rpk' && info.rpkPublicKey !== undefined) {
      const other = owner(this.byRpkHex.get(info.rpkPublicKey.toString('hex')));
      if (other) throw new StoreConflictError(`this public key already belongs to endpoint "${other}"`);
    }
    if (info.mode === 'x509') {
      const cn = expectedCertificateCN(info);
      const other = owner(this.byCertificateCN.get(cn));
      if (other) throw new StoreConflictError(`certificate CN "${cn}" is already expected for endpoint "${other}"`);
    }
  }

  private index(info: SecurityInfo): void {
    this.byEndpoint.set(info.endpoint, info);
    if (info.mode === 'psk' && info.pskIdentity !== undefined) this.byPskIdentity.set(info.pskIdentity, info);
    if (info.mode === 'rpk' && info.rpkPublicKey !== undefined) this.byRpkHex.set(info.rpkPublicKey.toString('hex'), info);
    if (info.mode === 'x509') this.byCertificateCN.set(expectedCertificateCN(info), info);
  }

  private unindex(info: SecurityInfo): void {
    this.byEndpoint.delete(info.endpoint);
    const drop = (map: Map<string, SecurityInfo>, key: string | undefined): void => {
      if (key !== undefined && map.get(key) === info) map.delete(key);
    };
    drop(this.byPskIdentity, info.pskIdentity);
    drop(this.byRpkHex, info.rpkPublicKey?.toString('hex'));
    if (info.mode === 'x509') drop(this.byCertificateCN, expectedCertificateCN(info));
  }

  private notify(change: SecurityChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not undo a change that is already stored.
      }
    }
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
