/**
 * A simulated MCUboot-style device's firmware update: receives a package (push) or
 * downloads it (pull, resumable) into the slot that is not running, verifies it, and on
 * Update test-boots it; the image confirms itself only if it boots, else the bootloader
 * reverts. Everything that must survive a power cut goes through the SlotStore first.
 */
import type { DatagramTransport } from '../../../src/coap/types.js';
import type { FirmwareBehaviour } from './behaviour.js';
import { StreamingVerifier, verifyImage, type SimImageHeader } from './image-format.js';
import type { SuitPackageVerdict } from './suit-verifier.js';
import { BlockPuller, parseCoapUri, PullError, type PullTarget } from './pull-client.js';
import type { FirmwareDiskState, SlotIndex, SlotStore } from './slot-store.js';

/** How many times a pull waits for a server that answered 5.03 before it gives up (result 4). */
const MAX_BUSY_WAITS = 30;
import { DeviceFwState, nextUpdaterState, UpdaterTransitionError, type UpdaterEvent } from './updater-state.js';

export interface FirmwareUpdaterOptions {
  store: SlotStore;
  behaviour?: FirmwareBehaviour;
  /** What the factory image in slot 0 reports when the store is new. */
  factory: { name: string; version: string };
  /** A fresh socket for a pull (the device's link shaping applied); a DTLS session for a coaps:// one. */
  openTransport: (target: PullTarget) => Promise<DatagramTransport>;
  /** Whether the device has DTLS credentials for coaps:// pulls now (default: it has none). */
  canPullSecurely?: () => boolean;
  /** State or result changed: observers should be told now. */
  onChange: () => void;
  /** The device restarts (after an install): it registers again. */
  reboot: () => void;
  log?: (message: string) => void;
  /**
   * A device paired with a security profile: every package is checked by this (SUIT
   * manifest, sequence number, decryption; suit-verifier.ts) and only the opened image is
   * kept. `installedSequence` is undefined while the factory image runs.
   */
  checkPackage?: (bytes: Buffer, installedSequence: number | undefined) => Promise<SuitPackageVerdict>;
}

/** Thrown to the request handler: answered 4.00 / 4.05 by the device. */
export class PackageRejectedError extends Error {
  override readonly name = 'PackageRejectedError';
}

export class FirmwareUpdater {
  private disk: FirmwareDiskState;
  private readonly store: SlotStore;
  private readonly behaviour: FirmwareBehaviour;
  private puller: BlockPuller | undefined;
  private pullTransport: DatagramTransport | undefined;
  private connectionLosses = 0;
  private deferralsLeft: number;
  private stopped = false;
  /** Set by the device's discretion: resolves when the device is idle (see setIdleGate). */
  private idleGate: (() => Promise<void> | undefined) | undefined;

  constructor(private readonly options: FirmwareUpdaterOptions) {
    this.store = options.store;
    this.behaviour = options.behaviour ?? {};
    this.deferralsLeft = this.behaviour.deferUpdates ?? 0;
    const stored = this.store.readState();
    this.disk = stored ?? {
      active: 0,
      slots: [{ name: options.factory.name, version: options.factory.version, sha256: '', size: 0 }, null],
      trial: null,
      state: DeviceFwState.idle,
      result: 0,
      uri: '',
      etag: null,
      total: null,
    };
    // A new device writes its factory record at once: from then on there is always one to boot from.
    if (!stored) this.store.writeState(this.disk);
    this.bootloader();
  }

  get state(): number {
    return this.behaviour.nonsenseState && this.disk.state === DeviceFwState.downloading ? 7 : this.disk.state;
  }

  get result(): number {
    return this.disk.result;
  }

  get packageUri(): string {
    return this.disk.uri;
  }

  get running(): { name: string; version: string; sha256: string } {
    const image = this.disk.slots[this.disk.active]!;
    return { name: image.name, version: image.version, sha256: image.sha256 };
  }

  /** The version the device reports: a lying device keeps claiming the new one. */
  get reportedVersion(): string {
    return this.running.version;
  }

  get deliveryMethod(): number {
    return this.behaviour.deliveryMethod ?? 2;
  }

  /** Protocol Support (/5/0/8): CoAP (0), and CoAPS (1) while the device has DTLS credentials. */
  get protocols(): number[] {
    return this.behaviour.protocols ?? (this.options.canPullSecurely?.() ? [0, 1] : [0]);
  }

  get maxDeferPeriodSec(): number {
    return this.behaviour.maxDeferPeriodSec ?? 0;
  }

  /** For tests: the whole persisted record. */
  snapshot(): FirmwareDiskState {
    return structuredClone(this.disk);
  }

  /**
   * A device that turns busy pauses its own pull between two blocks and goes on from its
   * last block when the gate's promise resolves (the gate answers undefined while idle) (the server cannot stop a pull, LwM2M gives it no way).
   */
  setIdleGate(gate: (() => Promise<void> | undefined) | undefined): void {
    this.idleGate = gate;
  }

  /** Picks up an interrupted pull after a restart (call once the device is registered). */
  resume(): void {
    if (this.disk.state === DeviceFwState.downloading && this.disk.uri !== '') void this.runPull(true);
  }

  stop(): void {
    this.stopped = true;
    this.puller?.abort();
    void this.pullTransport?.close().catch(() => {});
    this.store.close();
  }

  // ───────────────────────────── server operations ─────────────────────────────

  /** Write of /5/0/0: the whole package (the CoAP layer reassembled the Block1 transfer). */
  pushPackage(bytes: Buffer): void {
    if (bytes.length === 0) {
      this.abortPull();
      this.apply({ kind: 'reset' }, { uri: '', etag: null, total: null });
      return;
    }
    if (this.disk.state === DeviceFwState.updating) throw new UpdaterTransitionError('an update is being installed');
    this.abortPull();
    this.apply({ kind: 'download-started' }, { uri: '', etag: null, total: bytes.length });
    const early = this.precheck(bytes.length);
    if (early !== undefined) {
      this.apply({ kind: 'download-failed', result: early });
      if (early === 6) throw new PackageRejectedError('unsupported package type');
      return;
    }
    const slot = this.downloadSlot;
    this.store.truncateSlot(slot, 0);
    const stored = this.behaviour.corruptDownload ? corrupt(bytes) : bytes;
    this.store.appendSlot(slot, stored);
    if (this.options.checkPackage) return void this.finishSigned(slot, stored);
    const verdict = verifyImage(stored);
    this.finishDownload(verdict.ok ? { ok: true, header: verdict.header } : verdict);
    if (!verdict.ok && verdict.result === 6) throw new PackageRejectedError(verdict.reason);
  }

  /** Write of /5/0/1: start a pull (empty = reset to Idle). */
  writeUri(uri: string): void {
    if (uri === '') {
      this.abortPull();
      if (this.disk.state !== DeviceFwState.updating) this.apply({ kind: 'reset' }, { uri: '', etag: null, total: null });
      return;
    }
    if (this.disk.state === DeviceFwState.updating) throw new UpdaterTransitionError('an update is being installed');
    this.abortPull();
    const parsed = parseCoapUri(uri);
    // A coaps:// URI needs credentials: without them the device cannot speak that protocol.
    const target = parsed?.secure && !this.options.canPullSecurely?.() ? undefined : parsed;
    if (!target) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
      // Known schemes we cannot speak are "unsupported protocol" (9); anything else is an invalid URI (7).
      const result = scheme && ['coaps', 'http', 'https', 'coap+tcp', 'coaps+tcp'].includes(scheme) ? 9 : 7;
      this.apply({ kind: 'download-started' }, { uri: '', etag: null, total: null });
      this.apply({ kind: 'download-failed', result });
      return;
    }
    this.apply({ kind: 'download-started' }, { uri, etag: null, total: null });
    this.store.truncateSlot(this.downloadSlot, 0);
    void this.runPull(false, target);
  }

  /** Execute of /5/0/2. */
  executeUpdate(): void {
    if (this.disk.state !== DeviceFwState.downloaded) throw new UpdaterTransitionError(`no package downloaded (State ${this.disk.state})`);
    if (this.deferralsLeft > 0) {
      this.deferralsLeft--;
      this.apply({ kind: 'deferred' });
      return;
    }
    this.apply({ kind: 'update' }, { trial: { slot: this.downloadSlot, booted: false } });
    setTimeout(() => {
      if (this.stopped) return;
      // The "reboot": the bootloader test-boots the new slot, then the device registers again.
      this.bootloader();
      this.options.reboot();
    }, this.behaviour.installMs ?? 100).unref();
  }

  /** Execute of /5/0/10. */
  cancel(): void {
    if (this.disk.state === DeviceFwState.updating) throw new UpdaterTransitionError('too late to cancel: the update is being installed');
    this.abortPull();
    this.apply({ kind: 'cancelled' }, { uri: '', etag: null, total: null });
  }

  // ───────────────────────────── boot ─────────────────────────────

  /**
   * MCUboot's test swap, reduced to its promise: a test-booted image that does not confirm
   * itself before the next reset is reverted. A power cut anywhere in here leaves either
   * the trial record (the boot is retried, then reverted) or the final one.
   */
  private bootloader(): void {
    const trial = this.disk.trial;
    if (!trial) return;
    if (trial.booted) {
      // The test boot never confirmed (it crashed, or power was cut): revert.
      this.settle({ kind: 'install-failed', result: 8 }, { trial: null });
      return;
    }
    this.save({ ...this.disk, trial: { ...trial, booted: true } });
    const image = this.disk.slots[trial.slot];
    const bytes = this.store.readSlot(trial.slot);
    const intact = image !== null && (bytes === undefined || (verifyImage(bytes).ok && bytes.length === image.size));
    if (!intact || this.behaviour.bootFails) {
      this.options.log?.('new image failed to boot: reverting to the previous slot');
      this.settle({ kind: 'install-failed', result: 8 }, { trial: null });
      return;
    }
    if (this.behaviour.claimSuccessButKeepOldImage) {
      this.settle({ kind: 'installed' }, { trial: null });
      return;
    }
    this.settle({ kind: 'installed' }, { trial: null, active: trial.slot });
  }

  /** An install outcome, written even if the record is not in Updating (a power-cut boot). */
  private settle(event: UpdaterEvent, changes: Partial<FirmwareDiskState>): void {
    const from = this.disk.state === DeviceFwState.updating ? this.disk : { ...this.disk, state: DeviceFwState.updating };
    const next = nextUpdaterState(from, event);
    this.save({ ...this.disk, ...changes, ...next, uri: '', etag: null, total: null });
    this.options.onChange();
  }

  // ───────────────────────────── pull ─────────────────────────────

  private async runPull(resuming: boolean, known?: PullTarget): Promise<void> {
    const target = known ?? parseCoapUri(this.disk.uri);
    if (!target) return;
    const slot = this.downloadSlot;
    const szx = this.behaviour.pullBlockSzx ?? 6;
    const size = 2 ** (szx + 4);
    let offset = 0;
    let etag = this.disk.etag ? Buffer.from(this.disk.etag, 'hex') : undefined;
    if (resuming) {
      offset = Math.floor(this.store.slotLength(slot) / size) * size;
      this.store.truncateSlot(slot, offset);
      this.options.log?.(`resuming the download at byte ${offset}`);
    }
    const early = this.disk.total !== null ? this.precheck(this.disk.total) : undefined;
    if (early !== undefined) return this.failDownload(early);
    let attemptsLeft = this.behaviour.pullResumeAttempts ?? 5;
    // A server that asks us to come back (5.03, e.g. while it restarts) is waited for, a
    // bounded number of times, without spending the attempts kept for lost links.
    let waitsLeft = MAX_BUSY_WAITS;
    const uri = this.disk.uri;
    for (;;) {
      if (this.stopped || this.disk.uri !== uri) return;
      try {
        await this.pullOnce(target, slot, szx, offset, etag);
        break;
      } catch (err) {
        if (this.stopped || this.disk.uri !== uri) return;
        const error = err as PullError;
        if (error.kind === 'aborted') return;
        if (error.kind === 'simulated-loss') return this.failDownload(4);
        if (error.kind === 'busy' && waitsLeft-- > 0) {
          await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? 1000).unref());
          if (this.stopped || this.disk.uri !== uri) return;
          offset = this.store.slotLength(slot);
          etag = this.disk.etag ? Buffer.from(this.disk.etag, 'hex') : undefined;
          this.options.log?.(`server busy (${error.message}); resuming at byte ${offset}`);
          continue;
        }
        if (error.kind === 'changed') {
          // Another image behind the same URI: start over.
          offset = 0;
          etag = undefined;
          this.store.truncateSlot(slot, 0);
          this.save({ ...this.disk, etag: null });
          continue;
        }
        if (error.kind === 'refused' || attemptsLeft-- <= 0) return this.failDownload(error.kind === 'refused' ? 7 : 4);
        offset = this.store.slotLength(slot);
        etag = this.disk.etag ? Buffer.from(this.disk.etag, 'hex') : undefined;
        this.options.log?.(`link lost (${error.message}); resuming at byte ${offset}`);
      }
    }
    if (this.disk.uri !== uri) return;
    const bytes = this.store.readSlot(slot);
    if (this.options.checkPackage) return void this.finishSigned(slot, bytes);
    this.finishDownload(bytes === undefined ? this.streamVerdict! : verifyImage(bytes));
  }

  private streamVerdict: ReturnType<typeof verifyImage> | undefined;

  private async pullOnce(target: PullTarget, slot: SlotIndex, szx: number, offset: number, etag: Buffer | undefined): Promise<void> {
    let transport: DatagramTransport;
    try {
      transport = await this.options.openTransport(target);
    } catch (err) {
      // No socket or no DTLS session (the handshake failed): like a lost link, retried.
      throw new PullError(`cannot reach ${target.remote.address}:${target.remote.port}: ${(err as Error).message}`, 'lost');
    }
    if (this.stopped) {
      await transport.close().catch(() => {});
      throw new PullError('aborted', 'aborted');
    }
    this.pullTransport = transport;
    const puller = new BlockPuller(transport);
    this.puller = puller;
    const verifier = this.store.readSlot(slot) === undefined ? new StreamingVerifier() : undefined;
    let corrupted = false;
    try {
      await puller.pull({
        target,
        szx,
        offset,
        etag,
        ackTimeoutMs: this.behaviour.pullAckTimeoutMs ?? 2000,
        maxRetransmit: this.behaviour.pullMaxRetransmit ?? 4,
        // Read per block: the device may be given its gate after the pull began.
        untilIdle: () => this.idleGate?.(),
        onBlock: (block) => {
          if (this.stopped) return false;
          if (block.offset === 0 || this.disk.etag === null || this.disk.total === null) {
            const total = block.total ?? this.disk.total;
            this.save({ ...this.disk, etag: block.etag?.toString('hex') ?? null, total: total ?? null });
            if (total !== null && total !== undefined) {
              const early = this.precheck(total);
              if (early !== undefined) throw Object.assign(new PullError('refused by precheck', 'refused'), { result: early });
            }
          }
          let payload = block.payload;
          if (this.behaviour.corruptDownload && !corrupted && payload.length > 0 && block.last) {
            payload = corrupt(payload);
            corrupted = true;
          }
          this.store.appendSlot(slot, payload);
          verifier?.update(payload);
          const lossAt = this.behaviour.loseConnectionAfterBytes;
          if (lossAt !== undefined && this.connectionLosses < (this.behaviour.loseConnectionTimes ?? 1) && block.offset + payload.length >= lossAt && !block.last) {
            this.connectionLosses++;
            throw new PullError('connection lost (simulated)', 'simulated-loss');
          }
          return true;
        },
      });
      if (verifier) this.streamVerdict = verifier.verdict();
    } catch (err) {
      const result = (err as { result?: number }).result;
      if (result !== undefined) {
        this.failDownload(result);
        throw new PullError('precheck failed', 'aborted');
      }
      throw err;
    } finally {
      this.puller = undefined;
      this.pullTransport = undefined;
      await transport.close().catch(() => {});
    }
  }

  private abortPull(): void {
    this.puller?.abort();
  }

  private failDownload(result: number): void {
    if (this.disk.state !== DeviceFwState.downloading) return;
    this.apply({ kind: 'download-failed', result }, { uri: '', etag: null, total: null });
  }

  // ───────────────────────────── helpers ─────────────────────────────

  /** Checks that need only the size: flash, RAM, a device that refuses everything. */
  private precheck(size: number): number | undefined {
    if (this.behaviour.rejectPackage) return 6;
    if (this.behaviour.flashBytes !== undefined && size > this.behaviour.flashBytes) return 2;
    if (this.behaviour.outOfRam) return 3;
    return undefined;
  }

  /** Signed packages: verified asynchronously; the opened image replaces the package in the slot. */
  private async finishSigned(slot: SlotIndex, bytes: Buffer | undefined): Promise<void> {
    const uri = this.disk.uri;
    let verdict: SuitPackageVerdict;
    if (bytes === undefined) verdict = { ok: false, result: 6, reason: 'this device keeps no package bytes, so it cannot check a signed package' };
    else verdict = await this.options.checkPackage!(bytes, this.disk.slots[this.disk.active]?.sequence).catch((err: unknown) => ({ ok: false as const, result: 5 as const, reason: String(err) }));
    if (this.stopped || this.disk.state !== DeviceFwState.downloading || this.disk.uri !== uri) return;
    if (!verdict.ok) return this.finishDownload(verdict);
    const inner = verifyImage(verdict.image);
    if (!inner.ok) return this.finishDownload(inner);
    this.store.truncateSlot(slot, 0);
    this.store.appendSlot(slot, verdict.image);
    this.finishDownload({ ok: true, header: inner.header }, verdict.sequence);
  }

  private finishDownload(verdict: { ok: true; header: SimImageHeader } | { ok: false; result: 5 | 6; reason: string }, sequence?: number): void {
    if (this.disk.state !== DeviceFwState.downloading) return;
    if (!verdict.ok) {
      this.options.log?.(`download rejected: ${verdict.reason}`);
      this.apply({ kind: 'download-failed', result: verdict.result }, { uri: '', etag: null, total: null });
      return;
    }
    const slots: FirmwareDiskState['slots'] = [...this.disk.slots];
    const size = this.store.slotLength(this.downloadSlot);
    slots[this.downloadSlot] = { name: verdict.header.name, version: verdict.header.version, sha256: verdict.header.sha256, size, ...(sequence !== undefined ? { sequence } : {}) };
    this.apply({ kind: 'download-complete' }, { slots });
  }

  private get downloadSlot(): SlotIndex {
    return this.disk.active === 0 ? 1 : 0;
  }

  private apply(event: UpdaterEvent, changes: Partial<FirmwareDiskState> = {}): void {
    const next = nextUpdaterState(this.disk, event);
    this.save({ ...this.disk, ...changes, ...next });
    this.options.onChange();
  }

  private save(next: FirmwareDiskState): void {
    this.disk = next;
    this.store.writeState(next);
  }
}

function corrupt(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] ^= 0xff;
  return copy;
}
