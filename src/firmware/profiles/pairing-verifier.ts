/**
 * The manifest side of pairing: before any delivery, the image's SUIT envelope is checked
 * against the device's profile and what the server knows of the device (vendor/class ids,
 * installed sequence number, its keys), so the server never offers an image the device
 * would reject. Devices without a profile keep getting images unchecked, as before.
 * After a successful install the device's installed sequence number moves up.
 */
import type { FirmwareImageMeta, JsonObject } from '../../store/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { fromHex } from '../manifest/cbor.js';
import type { ManifestErrorCode } from '../manifest/errors.js';
import type { ProfilePairing } from './pairing.js';
import { verifyManifestForDevice } from './verifier.js';

/** What the repository keeps beside a signed image (FirmwareImageMeta.attributes.suit). */
export interface SuitImageAttributes {
  envelopeHex: string;
  sequenceNumber: number;
  vendorId: string | null;
  classId: string | null;
  encrypted: boolean;
  compressed: boolean;
  /** False when the payload is encrypted for a device: only the device can check it. */
  payloadChecked: boolean;
  payloadBytes: number;
}

export type ImageRefusalCode = ManifestErrorCode | 'not-signed' | 'device-incomplete';

/** The image must not be offered to this device; `message` says why, for operators. */
export class ImageRefusedError extends Error {
  override readonly name = 'ImageRefusedError';
  /** Lets the HTTP API's generic mapping answer 422 even where it does not know this class. */
  readonly statusCode = 422;
  constructor(
    readonly code: ImageRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export function suitAttributes(image: FirmwareImageMeta): SuitImageAttributes | undefined {
  const suit = image.attributes.suit;
  if (typeof suit !== 'object' || suit === null || Array.isArray(suit)) return undefined;
  const { envelopeHex, sequenceNumber } = suit as JsonObject;
  if (typeof envelopeHex !== 'string' || typeof sequenceNumber !== 'number') return undefined;
  return suit as unknown as SuitImageAttributes;
}

/** The DeliveryService's `verifyImage` hook. */
export function profileImageVerifier(pairing: ProfilePairing, clock: Clock): (image: FirmwareImageMeta, endpoint: string) => Promise<void> {
  return async (image, endpoint) => {
    const input = pairing.verifierInput(endpoint, clock.now());
    if (input === undefined) return;
    if (!input.ok) throw new ImageRefusedError('device-incomplete', input.reason);
    const suit = suitAttributes(image);
    if (!suit) {
      throw new ImageRefusedError('not-signed', `device "${endpoint}" is held to profile ${input.profile.name}, which needs a signed SUIT manifest; image ${image.id} has none (upload it with POST /api/firmware/suit)`);
    }
    const verdict = await verifyManifestForDevice(fromHex(suit.envelopeHex), input.profile, input.facts);
    if (!verdict.ok) throw new ImageRefusedError(verdict.code, `device "${endpoint}" (profile ${input.profile.name}) would reject image ${image.id}: ${verdict.reason}`);
  };
}

/** Moves a device's installed sequence number up when a signed image was installed on it. */
export function trackInstalledSequences(options: {
  deliveries: { events: { on(name: 'transition', listener: (event: { delivery: { endpoint: string; imageId: string; state: string } }) => void): () => void } };
  images: { get(id: string): Promise<FirmwareImageMeta | undefined> };
  pairing: ProfilePairing;
  logger?: Logger;
}): () => void {
  return options.deliveries.events.on('transition', ({ delivery }) => {
    if (delivery.state !== 'succeeded') return;
    void (async () => {
      const image = await options.images.get(delivery.imageId);
      const suit = image && suitAttributes(image);
      if (!suit) return;
      const current = options.pairing.device(delivery.endpoint)?.installedSequence ?? 0;
      if (suit.sequenceNumber > current) await options.pairing.setInstalledSequence(delivery.endpoint, suit.sequenceNumber);
    })().catch((err: unknown) => options.logger?.error({ err, ep: delivery.endpoint }, 'could not record the installed sequence number'));
  });
}
