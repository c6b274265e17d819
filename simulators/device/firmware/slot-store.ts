/**
 * The simulated device's flash: two slots (the running image and the download slot) and a
 * small state record, as an MCUboot device keeps them. The file store survives a process
 * kill at any instant: slot bytes are only ever appended to the slot that is NOT running,
 * and the state record is replaced by an atomic rename, so after a power cut the device
 * finds either the old record or the new one, and always a running slot it never wrote.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export type SlotIndex = 0 | 1;

export interface SlotImage {
  name: string;
  version: string;
  sha256: string;
  size: number;
  /** SUIT manifest sequence number of a signed image (devices paired with a security profile). */
  sequence?: number;
}

export interface FirmwareDiskState {
  /** The slot the device boots. */
  active: SlotIndex;
  slots: [SlotImage | null, SlotImage | null];
  /** After Update: the slot to test-boot, and whether that boot was already attempted. */
  trial: { slot: SlotIndex; booted: boolean } | null;
  /** Object 5 State and Update Result, as the device last reported them. */
  state: number;
  result: number;
  /** The pull being downloaded (empty when pushed or idle). */
  uri: string;
  /** ETag (hex) of the representation being pulled, to resume only the same image. */
  etag: string | null;
  total: number | null;
}

export interface SlotStore {
  readState(): FirmwareDiskState | undefined;
  /** Atomic: after a crash the old or the new state is read, never a mix. */
  writeState(state: FirmwareDiskState): void;
  truncateSlot(slot: SlotIndex, length: number): void;
  appendSlot(slot: SlotIndex, bytes: Buffer): void;
  slotLength(slot: SlotIndex): number;
  /** The slot's bytes, or undefined when this store does not keep them (a large simulated fleet). */
  readSlot(slot: SlotIndex): Buffer | undefined;
  close(): void;
}

export class FileSlotStore implements SlotStore {
  private readonly fds: [number | undefined, number | undefined] = [undefined, undefined];
  /** Slot lengths as this process last wrote them: one stat per slot, not one per appended block. */
  private readonly lengths: [number | undefined, number | undefined] = [undefined, undefined];

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  readState(): FirmwareDiskState | undefined {
    const file = join(this.dir, 'state.json');
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as FirmwareDiskState;
  }

  writeState(state: FirmwareDiskState): void {
    const temp = join(this.dir, 'state.json.tmp');
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, join(this.dir, 'state.json'));
  }

  truncateSlot(slot: SlotIndex, length: number): void {
    const fd = this.fd(slot);
    ftruncateSync(fd, length);
    this.lengths[slot] = fstatSync(fd).size;
  }

  appendSlot(slot: SlotIndex, bytes: Buffer): void {
    const fd = this.fd(slot);
    const at = this.slotLength(slot);
    const written = writeSync(fd, bytes, 0, bytes.length, at);
    this.lengths[slot] = at + written;
  }

  slotLength(slot: SlotIndex): number {
    const known = this.lengths[slot];
    if (known !== undefined) return known;
    const file = this.slotFile(slot);
    const length = existsSync(file) ? statSync(file).size : 0;
    this.lengths[slot] = length;
    return length;
  }

  readSlot(slot: SlotIndex): Buffer | undefined {
    const file = this.slotFile(slot);
    return existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  }

  close(): void {
    for (const slot of [0, 1] as const) {
      const fd = this.fds[slot];
      if (fd !== undefined) closeSync(fd);
      this.fds[slot] = undefined;
      this.lengths[slot] = undefined;
    }
  }

  private slotFile(slot: SlotIndex): string {
    return join(this.dir, `slot-${slot}.bin`);
  }

  private fd(slot: SlotIndex): number {
    let fd = this.fds[slot];
    if (fd === undefined) {
      fd = openSync(this.slotFile(slot), existsSync(this.slotFile(slot)) ? 'r+' : 'w+');
      this.fds[slot] = fd;
    }
    return fd;
  }
}

/** Flash in memory: lost with the process. `retainBytes: false` keeps only lengths (for big fleets). */
export class MemorySlotStore implements SlotStore {
  private state: FirmwareDiskState | undefined;
  private readonly slots: [Buffer[], Buffer[]] = [[], []];
  private readonly lengths: [number, number] = [0, 0];

  constructor(private readonly retainBytes = true) {}

  readState(): FirmwareDiskState | undefined {
    return this.state && copyState(this.state);
  }

  writeState(state: FirmwareDiskState): void {
    this.state = copyState(state);
  }

  truncateSlot(slot: SlotIndex, length: number): void {
    if (length === 0) this.slots[slot] = [];
    else if (this.retainBytes) this.slots[slot] = [Buffer.concat(this.slots[slot]).subarray(0, length)];
    this.lengths[slot] = Math.min(this.lengths[slot], length);
  }

  appendSlot(slot: SlotIndex, bytes: Buffer): void {
    if (this.retainBytes) this.slots[slot].push(Buffer.from(bytes));
    this.lengths[slot] += bytes.length;
  }

  slotLength(slot: SlotIndex): number {
    return this.lengths[slot];
  }

  readSlot(slot: SlotIndex): Buffer | undefined {
    return this.retainBytes ? Buffer.concat(this.slots[slot]) : undefined;
  }

  close(): void {}
}

/**
 * A deep copy of the (plain, two levels deep) state: what the "flash" holds must not change
 * with the caller's object. structuredClone did the same at several times the cost, for
 * every state change of every device in a simulated fleet.
 */
function copyState(state: FirmwareDiskState): FirmwareDiskState {
  const [a, b] = state.slots;
  return { ...state, slots: [a && { ...a }, b && { ...b }], trial: state.trial && { ...state.trial } };
}
