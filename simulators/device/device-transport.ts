/**
 * Wraps the device's UDP transport under its CoapEndpoint so the device can sleep (queue
 * mode): while asleep nothing goes in or out, as with the radio off, yet the socket stays
 * bound, so the device keeps its address and the server's registration stays valid.
 */
import type { DatagramTransport, RemoteAddress } from '../../src/coap/types.js';

export class SleepableTransport implements DatagramTransport {
  private asleep = false;
  private deliver: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
  /** Datagrams that arrived while asleep, for tests and statistics. */
  droppedWhileAsleep = 0;

  constructor(private readonly inner: DatagramTransport) {
    inner.onDatagram((datagram, remote) => {
      if (this.asleep) {
        this.droppedWhileAsleep++;
        return;
      }
      this.deliver(datagram, remote);
    });
  }

  setAsleep(asleep: boolean): void {
    this.asleep = asleep;
  }

  isAsleep(): boolean {
    return this.asleep;
  }

  send(datagram: Buffer, remote: RemoteAddress): void {
    if (!this.asleep) this.inner.send(datagram, remote);
  }

  onDatagram(handler: (datagram: Buffer, remote: RemoteAddress) => void): void {
    this.deliver = handler;
  }

  address(): RemoteAddress {
    return this.inner.address();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
