/**
 * Firmware delivery benchmarks (`npm run bench`, section "firmware"):
 *  1. 1 MiB to one device by push and by pull at 1024-byte blocks on loopback, beside
 *     libcoap (coap-client-notls -m get -b 1024 from coap-server-notls) in the same run.
 *     Goal: within 2x of libcoap. Also 4 MiB push and pull (the size kept out of npm test).
 *  2. A 256 KiB image to N simulated devices at once (default 1,000), aggregate MB/s,
 *     beside the raw UDP echo ceiling (1 KiB datagrams, N stop-and-wait loops) measured
 *     in the same run. Goal: at least 0.4 of the ceiling's byte rate.
 * The server runs as its own process (the real CLI). The single-device runs keep their device
 * in this process; the fleet runs in FLEET_WORKERS child processes (this same file, started
 * with --fleet-worker), as real clients would: a thousand simulated devices in the process
 * that also polls the HTTP API measured that process, not the server.
 * Before the timed runs, one warm-up push and pull of a small image let V8 compile the hot
 * paths of the server and of this process (both figures are printed: "cold" is the first
 * transfer ever made by the server process).
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SimulatedDevice } from '../device/simulated-device.js';
import { buildSimImage } from '../device/firmware/image-format.js';
import { startListening, type ListeningProcess } from './processes.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const underTsx = import.meta.url.endsWith('.ts');
const ext = underTsx ? '.ts' : '.js';
const tsxArgs = underTsx ? ['--import', 'tsx'] : [];

export interface FirmwareBenchOptions {
  devices?: number;
  /** Child processes the fleet's devices are spread over (default: the number of cores, at least 2). */
  fleetWorkers?: number;
  fleetImageBytes?: number;
  log?: (line: string) => void;
}

export interface FirmwareBenchResult {
  single: Record<string, { bytes: number; ms: number; mbPerS: number }>;
  /** The very first transfers of the server process (before any warm-up), for comparison. */
  coldPush256KiBMs: number;
  coldPull256KiBMs: number;
  /** 1024 stop-and-wait round trips of 1 KiB datagrams between two Node processes: this machine's floor for a 1 MiB block transfer in Node. */
  nodeUdpRoundTrips1MiBMs: number;
  libcoapGet1MiBMs: number | null;
  pushToLibcoap: number | null;
  pullToLibcoap: number | null;
  fleet: { devices: number; imageBytes: number; succeeded: number; ms: number; mbPerS: number; echoCeilingMbPerS: number; ratioToCeiling: number };
}

export async function runFirmwareBench(options: FirmwareBenchOptions = {}): Promise<FirmwareBenchResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  const server = await startListening(resolve(here, `../../src/cli/main${ext}`), [
    'serve', '--coap-host', '127.0.0.1', '--coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--bootstrap-port', '0', '--bootstrap-coaps-port', '0',
    '--data-dir', dataDir, '--store', 'memory', '--log-level', 'warn',
  ], tsxArgs);
  const base = `http://127.0.0.1:${server.httpPort}`;
  const coapUri = `coap://127.0.0.1:${server.coapPort}`;
  const devices: SimulatedDevice[] = [];
  try {
    const warm = buildSimImage({ name: 'bench', version: 'warm-up', payload: pattern(256 * 1024) });
    const warmId = await upload(base, warm, 'warm-up');
    const cold: Record<string, number> = {};
    for (const method of ['push', 'pull', 'push', 'pull'] as const) {
      const ep = `warm-${method}-${devices.length}`;
      const device = new SimulatedDevice({ serverUri: coapUri, endpointName: ep, rebootDelayMs: 10, lifetimeSec: 600 });
      devices.push(device);
      await device.register();
      const record = await deliver(base, ep, warmId, method, 120_000);
      cold[method] ??= phaseMs(record, 'transferring', 'downloaded');
    }
    log(`firmware cold (first transfers of the server process, 256 KiB): push ${cold.push} ms, pull ${cold.pull} ms`);
    const nodeUdpRoundTrips1MiBMs = await udpRoundTrips(1024);
    log(`node UDP stop-and-wait floor, 1024 round trips of 1 KiB between two processes: ${nodeUdpRoundTrips1MiBMs} ms`);
    const single: FirmwareBenchResult['single'] = {};
    for (const size of [1024 * 1024, 4 * 1024 * 1024]) {
      const image = buildSimImage({ name: 'bench', version: `b-${size}`, payload: pattern(size) });
      const id = await upload(base, image, `b-${size}`);
      for (const method of ['push', 'pull'] as const) {
        const ep = `bench-${method}-${size}`;
        const device = new SimulatedDevice({ serverUri: coapUri, endpointName: ep, rebootDelayMs: 10, lifetimeSec: 600 });
        devices.push(device);
        await device.register();
        const record = await deliver(base, ep, id, method, 120_000);
        const ms = phaseMs(record, 'transferring', 'downloaded');
        single[`${method}-${size / 1048576}MiB`] = { bytes: image.length, ms, mbPerS: image.length / 1e6 / (ms / 1000) };
        log(`firmware ${method} ${size / 1048576} MiB: ${ms} ms (${(image.length / 1e6 / (ms / 1000)).toFixed(2)} MB/s), ${record.state}`);
      }
    }
    const libcoapGet1MiBMs = await libcoapGet(1024 * 1024).catch((err: unknown) => {
      log(`libcoap comparison skipped: ${String(err)}`);
      return null;
    });
    if (libcoapGet1MiBMs !== null) log(`libcoap GET 1 MiB -b 1024: ${libcoapGet1MiBMs} ms`);
    await Promise.all(devices.splice(0).map((d) => d.stop()));

    const workers = options.fleetWorkers ?? Math.max(2, availableParallelism());
    const fleet = await fleetBench(base, coapUri, options.devices ?? 1000, options.fleetImageBytes ?? 256 * 1024, workers, log);
    return {
      single,
      coldPush256KiBMs: cold.push,
      coldPull256KiBMs: cold.pull,
      nodeUdpRoundTrips1MiBMs,
      libcoapGet1MiBMs,
      pushToLibcoap: libcoapGet1MiBMs ? single['push-1MiB'].ms / libcoapGet1MiBMs : null,
      pullToLibcoap: libcoapGet1MiBMs ? single['pull-1MiB'].ms / libcoapGet1MiBMs : null,
      fleet,
    };
  } finally {
    await Promise.all(devices.map((d) => d.stop().catch(() => {})));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function fleetBench(base: string, coapUri: string, count: number, imageBytes: number, workerCount: number, log: (line: string) => void): Promise<FirmwareBenchResult['fleet']> {
  const image = buildSimImage({ name: 'fleet', version: 'fleet-2', payload: pattern(imageBytes) });
  const id = await upload(base, image, 'fleet-2');
  const workers: FleetWorker[] = [];
  try {
    const per = Math.ceil(count / workerCount);
    for (let from = 0; from < count; from += per) workers.push(startFleetWorker(coapUri, from, Math.min(per, count - from)));
    const endpoints = (await Promise.all(workers.map((w) => w.ready))).flat();
    const started = Date.now();
    await Promise.all(endpoints.map((ep) => post(base, `/api/clients/${ep}/firmware`, { firmwareId: id, method: 'pull' })));
    const records = await waitAllFinished(base, endpoints, 300_000);
    const ok = records.filter((r) => r.state === 'succeeded');
    const lastDownloaded = Math.max(...records.map((r) => Date.parse(r.history.find((h: { to: string }) => h.to === 'downloaded')?.at ?? r.updatedAt)));
    const ms = lastDownloaded - started;
    const mbPerS = (ok.length * image.length) / 1e6 / (ms / 1000);
    log(`firmware fleet: ${ok.length}/${count} devices (in ${workers.length} processes) got ${image.length} bytes in ${ms} ms = ${mbPerS.toFixed(2)} MB/s`);
    await Promise.all(workers.map((w) => w.stop()));
    const echoCeilingMbPerS = await echoCeiling(count, 3000);
    log(`raw UDP echo ceiling (${count} loops of 1 KiB): ${echoCeilingMbPerS.toFixed(2)} MB/s; ratio ${(mbPerS / echoCeilingMbPerS).toFixed(2)}`);
    return { devices: count, imageBytes: image.length, succeeded: ok.length, ms, mbPerS, echoCeilingMbPerS, ratioToCeiling: mbPerS / echoCeilingMbPerS };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

interface FleetWorker {
  /** The endpoint names, once every device of the worker is registered. */
  ready: Promise<string[]>;
  stop(): Promise<void>;
}

function startFleetWorker(coapUri: string, from: number, count: number): FleetWorker {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--fleet-worker'], { execArgv: tsxArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<string[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fleet worker exited with code ${code} before it was ready`)));
    child.on('message', (message: { ready?: string[] }) => {
      if (message.ready) resolve(message.ready);
    });
  });
  child.send({ coapUri, from, count });
  let stopping: Promise<void> | undefined;
  return {
    ready,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(killer);
          resolve();
        });
        child.send({ stop: true });
      })),
  };
}

/** The child side: registers its share of the fleet, then waits to be told to stop. */
function runFleetWorker(): void {
  const fleet: SimulatedDevice[] = [];
  process.on('message', (message: { coapUri?: string; from?: number; count?: number; stop?: boolean }) => {
    if (message.stop) {
      void Promise.all(fleet.map((d) => d.powerCut().catch(() => {}))).then(() => process.exit(0));
      return;
    }
    const { coapUri, from = 0, count = 0 } = message;
    void (async () => {
      for (let i = 0; i < count; i += 50) {
        const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          new SimulatedDevice({ serverUri: coapUri!, endpointName: `fleet-${from + i + j}`, lifetimeSec: 3600, rebootDelayMs: 10, firmware: { retainBytes: false } }),
        );
        fleet.push(...batch);
        await Promise.all(batch.map((d) => d.register()));
      }
      process.send!({ ready: fleet.map((d) => d.endpointName) });
    })().catch((err: unknown) => {
      process.stderr.write(`fleet worker: ${String(err)}\n`);
      process.exit(1);
    });
  });
}

/**
 * Polls the unfinished deliveries a few at a time. The figures come from each record's
 * history timestamps, so the polling pace only decides how much load the polling adds.
 */
async function waitAllFinished(base: string, endpoints: string[], withinMs: number): Promise<any[]> {
  const deadline = Date.now() + withinMs;
  const done = new Map<string, any>();
  for (;;) {
    const pending = endpoints.filter((ep) => !done.has(ep));
    if (pending.length === 0) return endpoints.map((ep) => done.get(ep));
    if (Date.now() > deadline) throw new Error(`${pending.length} deliveries still unfinished`);
    for (let i = 0; i < pending.length; i += 16) {
      await Promise.all(
        pending.slice(i, i + 16).map(async (ep) => {
          const body = (await (await fetch(`${base}/api/clients/${ep}/firmware`)).json()) as { state: string };
          if (body.state === 'succeeded' || body.state === 'failed') done.set(ep, body);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `count` stop-and-wait round trips of 1 KiB datagrams with an echo process (ms). */
async function udpRoundTrips(count: number): Promise<number> {
  const echo: ListeningProcess = await startListening(resolve(here, `echo-server${ext}`), [], tsxArgs);
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const datagram = Buffer.alloc(1024 + 12, 7);
  try {
    let best = Infinity;
    // Three rounds, the best one: the first also pays for the echo process's start-up.
    for (let round = 0; round < 3; round++) {
      const started = process.hrtime.bigint();
      await new Promise<void>((done, fail) => {
        let left = count;
        const timer = setTimeout(() => fail(new Error('echo round trips lost a datagram')), 10_000);
        socket.on('message', () => {
          if (--left > 0) return void socket.send(datagram, echo.coapPort, '127.0.0.1');
          clearTimeout(timer);
          socket.removeAllListeners('message');
          done();
        });
        socket.send(datagram, echo.coapPort, '127.0.0.1');
      });
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    }
    return Math.round(best);
  } finally {
    socket.close();
    await echo.stop();
  }
}

/** 1 KiB datagrams through a raw dgram echo process, `loops` of them in flight (one per "device"). */
async function echoCeiling(loops: number, durationMs: number): Promise<number> {
  const echo: ListeningProcess = await startListening(resolve(here, `echo-server${ext}`), [], tsxArgs);
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const datagram = Buffer.alloc(1024 + 12, 7);
  let bytes = 0;
  let running = true;
  socket.on('message', (msg) => {
    bytes += msg.length;
    if (running) socket.send(datagram, echo.coapPort, '127.0.0.1');
  });
  const start = Date.now();
  for (let i = 0; i < loops; i++) socket.send(datagram, echo.coapPort, '127.0.0.1');
  // A lost datagram ends its loop: top the window up now and then.
  const topUp = setInterval(() => {
    for (let i = 0; i < Math.max(1, loops / 20); i++) socket.send(datagram, echo.coapPort, '127.0.0.1');
  }, 100);
  await new Promise((r) => setTimeout(r, durationMs));
  running = false;
  clearInterval(topUp);
  const elapsed = Date.now() - start;
  socket.close();
  await echo.stop();
  return bytes / 1e6 / (elapsed / 1000);
}

async function libcoapGet(size: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fw-libcoap-'));
  const file = join(dir, 'image.bin');
  writeFileSync(file, pattern(size));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-d', '4'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    await run('coap-client-notls', ['-m', 'put', '-b', '1024', '-f', file, `coap://127.0.0.1:${port}/image`], { timeout: 60_000 });
    const out = join(dir, 'out.bin');
    const started = Date.now();
    await run('coap-client-notls', ['-m', 'get', '-b', '1024', '-o', out, `coap://127.0.0.1:${port}/image`], { timeout: 60_000 });
    return Date.now() - started;
  } finally {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + (i >> 10)) & 0xff;
  return bytes;
}

function phaseMs(record: { history: Array<{ to: string; at: string }> }, from: string, to: string): number {
  const start = record.history.find((h) => h.to === from);
  const end = record.history.find((h) => h.to === to);
  return start && end ? Date.parse(end.at) - Date.parse(start.at) : NaN;
}

async function upload(base: string, image: Buffer, version: string): Promise<string> {
  const response = await fetch(`${base}/api/firmware?name=bench&version=${version}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: image });
  if (response.status !== 201) throw new Error(`upload answered ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

async function post(base: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status !== 202) throw new Error(`POST ${path} answered ${response.status}: ${await response.text()}`);
}

async function deliver(base: string, ep: string, firmwareId: string, method: string, withinMs: number): Promise<any> {
  await post(base, `/api/clients/${ep}/firmware`, { firmwareId, method });
  return waitFinished(base, ep, withinMs);
}

async function waitFinished(base: string, ep: string, withinMs: number): Promise<any> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const body = (await (await fetch(`${base}/api/clients/${ep}/firmware`)).json()) as { state: string };
    if (body.state === 'succeeded' || body.state === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`${ep}: still ${body.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (process.argv.includes('--fleet-worker')) {
  runFleetWorker();
} else if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const devices = Number(process.env.FW_BENCH_DEVICES ?? 1000);
  runFirmwareBench({ devices }).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
