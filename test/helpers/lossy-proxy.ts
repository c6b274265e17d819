/**
 * A UDP proxy between devices and the server that loses, duplicates and reorders
 * datagrams (both ways), so the CoAP layers' retransmission and de-duplication carry a
 * transfer through a bad link. One outbound socket per device, so the server sees each
 * device at its own address.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface LossyProxy {
  port: number;
  stats: { forwarded: number; dropped: number; duplicated: number; delayed: number };
  close(): Promise<void>;
}

export async function startLossyProxy(target: { address: string; port: number }, shape: { loss: number; duplicate: number; reorder: number; seed?: number }): Promise<LossyProxy> {
  let seed = shape.seed ?? 12345;
  const random = (): number => {
    // Deterministic per run, so a failure can be replayed.
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const stats = { forwarded: 0, dropped: 0, duplicated: 0, delayed: 0 };
  const front = createSocket('udp4');
  const sides = new Map<string, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const pass = (send: () => void): void => {
    if (random() < shape.loss) {
      stats.dropped++;
      return;
    }
    stats.forwarded++;
    const copies = random() < shape.duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (random() < shape.reorder) {
        stats.delayed++;
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, 1 + Math.floor(random() * 8));
        timers.add(timer);
      } else send();
    }
  };
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let side = sides.get(key);
    if (!side) {
      side = createSocket('udp4');
      side.bind(0, '127.0.0.1');
      side.on('message', (reply) => pass(() => front.send(reply, rinfo.port, rinfo.address)));
      sides.set(key, side);
    }
    const out = side;
    pass(() => out.send(msg, target.port, target.address));
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  return {
    port: front.address().port,
    stats,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const side of sides.values()) side.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
