/** Builds a simulated device's FirmwareUpdater from its options (the wiring SimulatedDevice uses). */
import type { DatagramTransport } from '../../../src/coap/types.js';
import type { FirmwareBehaviour } from './behaviour.js';
import { connectDeviceDtls, type DeviceSecurity } from '../dtls-transport.js';
import { connectUdpTransport } from './connected-udp.js';
import { FirmwareUpdater } from './firmware-updater.js';
import { ShapedTransport, type LinkShape } from './link-shaper.js';
import { FileSlotStore, MemorySlotStore } from './slot-store.js';
import { openSuitPackage, type DeviceSuitConfig } from './suit-verifier.js';

export interface SimulatedFirmwareOptions {
  /** Folder of the slots and state record; absent = in memory (lost with the process). */
  stateDir?: string;
  behaviour?: FirmwareBehaviour;
  /** Loss and rate of the device's link (applies to its CoAP endpoint and its pulls). */
  link?: LinkShape;
  /** In-memory slots keep the bytes (default true); a large fleet turns it off. */
  retainBytes?: boolean;
  /** Package name of the factory image. */
  factoryName?: string;
  /** The device's security profile, trust anchors and keys: it then installs only SUIT packages that pass them. */
  suit?: DeviceSuitConfig;
}

export function createDeviceFirmware(input: {
  options: SimulatedFirmwareOptions | undefined;
  factoryVersion: string;
  bindHost: () => string;
  /** The device's DTLS credentials (those of its LwM2M server account), for coaps:// pulls. */
  security?: () => DeviceSecurity | undefined;
  onChange: () => void;
  reboot: () => void;
  log: (message: string) => void;
}): FirmwareUpdater {
  const options = input.options ?? {};
  const store = options.stateDir ? new FileSlotStore(options.stateDir) : new MemorySlotStore(options.retainBytes ?? true);
  return new FirmwareUpdater({
    store,
    behaviour: options.behaviour,
    factory: { name: options.factoryName ?? 'sim-firmware', version: input.factoryVersion },
    openTransport: async (target): Promise<DatagramTransport> => {
      const security = target.secure ? input.security?.() : undefined;
      if (target.secure && !security) throw new Error('no DTLS credentials for a coaps:// pull');
      // A pull gets its own session, as a device's download client has its own socket.
      const link = security
        ? await connectDeviceDtls({ server: target.remote, security, bindHost: input.bindHost() })
        : await connectUdpTransport(input.bindHost(), target.remote);
      return options.link ? new ShapedTransport(link, options.link) : link;
    },
    canPullSecurely: () => input.security?.() !== undefined,
    onChange: input.onChange,
    reboot: input.reboot,
    log: input.log,
    ...(options.suit ? { checkPackage: checkWith(options.suit) } : {}),
  });
}

function checkWith(suit: DeviceSuitConfig): (bytes: Buffer, installed: number | undefined) => ReturnType<typeof openSuitPackage> {
  return (bytes, installed) => openSuitPackage(bytes, suit, installed ?? suit.factorySequence ?? 0);
}
