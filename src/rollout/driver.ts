/**
 * The boundary between deciding and doing: the scheduler decides who gets the image and
 * when; a DeliveryDriver carries one device's transfer out. Implemented over the Object 5
 * DeliveryService (delivery-driver-adapter.ts) and, for unit tests and the benchmark, by a
 * simulated driver that moves bytes on the injected clock (simulated-driver.ts).
 */
export interface TransferRequest {
  campaignId: string;
  endpoint: string;
  imageId: string;
  imageVersion: string;
  imageSize: number;
  /** LwM2M /5/0/11: 0 critical, 1 major, 2 minor. */
  severity: number;
  /** Keep the downloaded image until releaseUpdate() (the reboot waits for an idle window). */
  holdUpdate: boolean;
}

export type DriverEvent =
  | { kind: 'progress'; endpoint: string; bytes: number; total: number }
  /** The device holds the whole image (with holdUpdate: waiting for releaseUpdate). */
  | { kind: 'downloaded'; endpoint: string }
  | { kind: 'succeeded'; endpoint: string }
  /** `reverted`: the image was installed and the device went back to the old one. */
  | { kind: 'failed'; endpoint: string; reason: string; reverted: boolean };

export type DriverTransferState = 'none' | 'transferring' | 'paused' | 'downloaded' | 'updating' | 'succeeded' | 'failed';

export interface DriverTransferStatus {
  state: DriverTransferState;
  bytes: number;
  total: number;
  reason?: string;
  reverted?: boolean;
}

export interface DriverCapabilities {
  /** pause()/resume() keep the bytes already moved (otherwise a pause restarts the transfer later). */
  pause: boolean;
  /** holdUpdate is honoured (otherwise Update runs as soon as the image is there). */
  holdUpdate: boolean;
  /** setRate() is honoured (otherwise bandwidth is kept by limiting concurrency). */
  rateLimit: boolean;
}

export interface DeliveryDriver {
  readonly capabilities: DriverCapabilities;
  start(request: TransferRequest): Promise<void>;
  /** Stop moving bytes; the device keeps what it has. */
  pause(endpoint: string): Promise<void>;
  resume(endpoint: string): Promise<void>;
  /** The most this transfer may use, in bytes/s (undefined = no limit). */
  setRate(endpoint: string, bytesPerSec: number | undefined): void;
  /** Run Update on a device that holds the image. */
  releaseUpdate(endpoint: string): Promise<void>;
  /** Cancel (LwM2M /5/0/10 where the device has it). */
  cancel(endpoint: string, reason: string): Promise<void>;
  /** What the driver knows of the endpoint's transfer of this image (after a restart). */
  status(endpoint: string, imageId: string): Promise<DriverTransferStatus>;
  onEvent(listener: (event: DriverEvent) => void): () => void;
}
