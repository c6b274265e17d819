/** How a simulated device's firmware update misbehaves, on purpose (all off by default). */
export interface FirmwareBehaviour {
  /** Flash available for a package; a larger one fails with Update Result 2. */
  flashBytes?: number;
  /** The download runs out of RAM (Update Result 3). */
  outOfRam?: boolean;
  /** A pull loses the link after this many bytes and gives up (Update Result 4)… */
  loseConnectionAfterBytes?: number;
  /** …this many times (default 1), so a retry by the server can succeed. */
  loseConnectionTimes?: number;
  /** One byte of the download is flipped: the digest check fails (Update Result 5). */
  corruptDownload?: boolean;
  /** Refuses every package as unsupported (Update Result 6), even a valid one. */
  rejectPackage?: boolean;
  /** The user defers the first N Update executions (Update Result 11). */
  deferUpdates?: number;
  /** Maximum Defer Period (/5/0/13) in seconds the device reports. */
  maxDeferPeriodSec?: number;
  /** The new image does not boot: the bootloader reverts to the old one (Update Result 8). */
  bootFails?: boolean;
  /** Reports result 1 but comes back running the old image (a lying device). */
  claimSuccessButKeepOldImage?: boolean;
  /** Reports nonsense (State 7) once a download starts. */
  nonsenseState?: boolean;
  /** Pull block size exponent (szx 0..6) the device asks for. */
  pullBlockSzx?: number;
  /** How long installing takes before the "reboot" (default 100 ms). */
  installMs?: number;
  /** Pull: CoAP ACK timeout and retransmissions of the device's block requests. */
  pullAckTimeoutMs?: number;
  pullMaxRetransmit?: number;
  /** Pull: how many times a lost link is resumed from the last block before giving up (default 5). */
  pullResumeAttempts?: number;
  /** Object 5 Delivery Method (/5/0/9): 0 pull, 1 push, 2 both (default). */
  deliveryMethod?: 0 | 1 | 2;
  /** Protocol Support (/5/0/8), default [0] (CoAP). */
  protocols?: number[];
}
