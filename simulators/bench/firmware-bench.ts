/**
 * Firmware delivery benchmarks (`npm run bench`, section "firmware"):
 *  1. 1 MiB to one device by push and by pull at 1024-byte blocks on loopback, beside
 *     libcoap (coap-client-notls -m get -b 1024 from coap-server-notls) in the same run.
 *     Goal: within 2x of libcoap. Also 4 MiB push and pull (the size kept out of npm test).
 *  2. A 256 KiB image to N simulated devices at once (default 1,000), aggregate MB/s,
 *     beside the raw UDP echo ceiling (1 KiB datagrams, N stop-and-wait loops) measured
 *     in the same run, just before and just after each fleet (a round's ratio is to their
 *     mean). Three rounds, each a fresh fleet; the median round is reported.
 *     Goal: at least 0.4 of the ceiling's byte rate.
 * The server runs as its own process (the real CLI). The single-device runs keep their device
 * in this process; the fleet runs in FLEET_WORKERS child processes (this same file, started
 * with --fleet-worker), as real clients would: a thousand simulated devices in the process
 * that also polls the HTTP API measured that process, not the server.
 * Before the timed runs, warm-up pushes and pulls let V8 compile the hot paths of the server
 * and of this process (both figures are printed: "cold" is the first transfer ever made by
 * the server process). A 256 KiB warm-up left most of the per-block code unoptimized (V8
 * optimizes it after a few thousand blocks, later still on a busy 2-core machine), so the
 * first timed 1 MiB push measured the compiler, not the transfer: the warm-up now moves
 * 2 MiB each way, and the 1 MiB figures are the best of three transfers, as the Node UDP
 * floor always was, and as libcoap's GET now is too (a fresh device each time).
 * With FLEET_SLOWEST=1 in the environment, each fleet round prints the history of its slowest
 * delivery (a round with one delivery failing after ~80 s was how a message-ID collision in
 * the CoAP de-duplication was found, see sameMessage in src/coap/endpoint.ts).
 * The fleet's progress is no longer polled over HTTP while it runs (a thousand GETs every
 * half second were a load on the very server being measured, and on this process): the
 * worker processes say when their devices have installed, then the records are read once.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SimulatedDevice } from '../device/simulated-device.js';
import { buildSimImage } from '../device/firmware/image-format.js';
import { startListening, type ListeningProcess } from './processes.js';
import { medianBy } from './median.js';

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
  /** Every timed 1 MiB transfer (ms), the figures above being the best of each list. */
  runs1MiB: { push: number[]; pull: number[]; libcoap: number[] };
  pushToLibcoap: number | null;
  pullToLibcoap: number | null;
  /** The median round's figures, and every round's. */
  fleet: FleetRound & { devices: number; imageBytes: number; rounds: FleetRound[] };
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
    const warmBig = buildSimImage({ name: 'bench', version: 'warm-up-1M', payload: pattern(1024 * 1024) });
    const warmBigId = await upload(base, warmBig, 'warm-up-1M');
    const cold: Record<string, number> = {};
    let serial = 0;
    const deliverToNewDevice = async (prefix: string, id: string, method: 'push' | 'pull'): Promise<any> => {
      const ep = `${prefix}-${method}-${serial++}`;
      const device = new SimulatedDevice({ serverUri: coapUri, endpointName: ep, rebootDelayMs: 10, lifetimeSec: 600 });
      devices.push(device);
      await device.register();
      const record = await deliver(base, ep, id, method, 120_000);
      // Each device is done with once it installed: a thousand idle devices would be load too.
      await device.stop();
      return record;
    };
    for (const method of ['push', 'pull'] as const) {
      const record = await deliverToNewDevice('warm', warmId, method);
      cold[method] = phaseMs(record, 'transferring', 'downloaded');
    }
    log(`firmware cold (first transfers of the server process, 256 KiB): push ${cold.push} ms, pull ${cold.pull} ms`);
    for (let i = 0; i < 2; i++) for (const method of ['push', 'pull'] as const) await deliverToNewDevice('warm', warmBigId, method);
    const nodeUdpRoundTrips1MiBMs = await udpRoundTrips(1024);
    log(`node UDP stop-and-wait floor, 1024 round trips of 1 KiB between two processes: ${nodeUdpRoundTrips1MiBMs} ms`);
    const single: FirmwareBenchResult['single'] = {};
    const runs1MiB: FirmwareBenchResult['runs1MiB'] = { push: [], pull: [], libcoap: [] };
    for (const size of [1024 * 1024, 4 * 1024 * 1024]) {
      const image = buildSimImage({ name: 'bench', version: `b-${size}`, payload: pattern(size) });
      const id = await upload(base, image, `b-${size}`);
      const repeats = size === 1024 * 1024 ? 3 : 1;
      for (const method of ['push', 'pull'] as const) {
        const times: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const record = await deliverToNewDevice('bench', id, method);
          if (record.state !== 'succeeded') throw new Error(`firmware ${method} ${size} bytes: ${record.state} (${record.reason})`);
          times.push(phaseMs(record, 'transferring', 'downloaded'));
        }
        if (size === 1024 * 1024) runs1MiB[method] = times;
        const ms = Math.min(...times);
        single[`${method}-${size / 1048576}MiB`] = { bytes: image.length, ms, mbPerS: image.length / 1e6 / (ms / 1000) };
        const spread = times.length > 1 ? ` (best of ${times.join(', ')})` : '';
        log(`firmware ${method} ${size / 1048576} MiB: ${ms} ms${spread} (${(image.length / 1e6 / (ms / 1000)).toFixed(2)} MB/s)`);
      }
    }
    const libcoapRuns = await libcoapGet(1024 * 1024, 3).catch((err: unknown) => {
      log(`libcoap comparison skipped: ${String(err)}`);
      return null;
    });
    const libcoapGet1MiBMs = libcoapRuns === null ? null : Math.min(...libcoapRuns);
    if (libcoapRuns !== null) {
      runs1MiB.libcoap = libcoapRuns;
      log(`libcoap GET 1 MiB -b 1024: ${libcoapGet1MiBMs} ms (best of ${libcoapRuns.join(', ')})`);
    }
    await Promise.all(devices.splice(0).map((d) => d.stop()));

    const workers = options.fleetWorkers ?? Math.max(2, availableParallelism());
    const fleet = await fleetBench(base, coapUri, options.devices ?? 1000, options.fleetImageBytes ?? 256 * 1024, workers, log);
    return {
      single,
      coldPush256KiBMs: cold.push,
      coldPull256KiBMs: cold.pull,
      nodeUdpRoundTrips1MiBMs,
      libcoapGet1MiBMs,
      runs1MiB,
      pushToLibcoap: libcoapGet1MiBMs ? single['push-1MiB'].ms / libcoapGet1MiBMs : null,
      pullToLibcoap: libcoapGet1MiBMs ? single['pull-1MiB'].ms / libcoapGet1MiBMs : null,
      fleet,
    };
  } finally {
    await Promise.all(devices.map((d) => d.stop().catch(() => {})));
    apiAgent.destroy();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Fleet rounds: a single ~6 s fleet window against echo windows around it was at the mercy
 * of one hiccup of this shared machine (rounds of one build ranged 0.35-0.48), so the fleet
 * runs FLEET_ROUNDS times, each with fresh devices, and the median round is reported.
 */
const FLEET_ROUNDS = 3;

interface FleetRound {
  succeeded: number;
  ms: number;
  mbPerS: number;
  echoCeilingMbPerS: number;
  echoCeilingBeforeAfter: [number, number];
  ratioToCeiling: number;
}

/** The fleet section alone, against a running server (exported for profiling runs). */
export async function fleetBench(base: string, coapUri: string, count: number, imageBytes: number, workerCount: number, log: (line: string) => void): Promise<FirmwareBenchResult['fleet']> {
  const image = buildSimImage({ name: 'fleet', version: 'fleet-2', payload: pattern(imageBytes) });
  const id = await upload(base, image, 'fleet-2');
  const rounds: FleetRound[] = [];
  // The ceiling just before and just after each fleet, and the ratio to their mean: other
  // work on a shared machine moves both figures, and one measured only afterwards compared
  // the fleet with a different machine state.
  let ceilingBefore = await echoCeiling(count, 3000);
  for (let round = 0; round < FLEET_ROUNDS; round++) {
    const { ok, ms, mbPerS, processes } = await fleetRound(base, coapUri, `fleet-r${round}-`, id, image.length, count, workerCount);
    const ceilingAfter = await echoCeiling(count, 3000);
    const echoCeilingMbPerS = (ceilingBefore + ceilingAfter) / 2;
    const ratioToCeiling = mbPerS / echoCeilingMbPerS;
    log(
      `firmware fleet round ${round + 1}: ${ok}/${count} devices (in ${processes} processes) got ${image.length} bytes in ${ms} ms = ${mbPerS.toFixed(2)} MB/s; ` +
        `raw UDP echo ceiling (${count} loops of 1 KiB) ${echoCeilingMbPerS.toFixed(2)} MB/s (before ${ceilingBefore.toFixed(2)}, after ${ceilingAfter.toFixed(2)}); ratio ${ratioToCeiling.toFixed(2)}`,
    );
    rounds.push({ succeeded: ok, ms, mbPerS, echoCeilingMbPerS, echoCeilingBeforeAfter: [ceilingBefore, ceilingAfter], ratioToCeiling });
    ceilingBefore = ceilingAfter;
  }
  const median = medianBy(rounds, (r) => r.ratioToCeiling);
  log(`firmware fleet: median round ${median.mbPerS.toFixed(2)} MB/s; ratio ${median.ratioToCeiling.toFixed(2)} (rounds ${rounds.map((r) => r.ratioToCeiling.toFixed(2)).join(', ')})`);
  return { devices: count, imageBytes: image.length, ...median, rounds };
}

/** One fleet: fresh devices named `prefix<n>`, registered, then all told to pull the image at once. */
async function fleetRound(base: string, coapUri: string, prefix: string, imageId: string, imageLength: number, count: number, workerCount: number): Promise<{ ok: number; ms: number; mbPerS: number; processes: number }> {
  const workers: FleetWorker[] = [];
  try {
    const per = Math.ceil(count / workerCount);
    for (let from = 0; from < count; from += per) workers.push(startFleetWorker(coapUri, prefix, from, Math.min(per, count - from)));
    const endpoints = (await Promise.all(workers.map((w) => w.ready))).flat();
    const started = Date.now();
    // Sixteen requests in flight over kept-alive connections, as an operator's tool would send
    // them: a thousand at once opened a thousand TCP connections, and the connection set-up on
    // both sides took seconds of the two cores the transfers need.
    await inParallel(endpoints, 16, (ep) => post(base, `/api/clients/${ep}/firmware`, { firmwareId: imageId, method: 'pull' }));
    // The devices say when they are done (no HTTP load while the fleet transfers); then each record is read.
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(workers.map((w) => w.settled)), new Promise((r) => (giveUp = setTimeout(r, 300_000)))]);
    clearTimeout(giveUp);
    const records = await waitAllFinished(base, endpoints, 120_000);
    const ok = records.filter((r) => r.state === 'succeeded');
    const lastDownloaded = Math.max(...records.map((r) => Date.parse(r.history.find((h: { to: string }) => h.to === 'downloaded')?.at ?? r.updatedAt)));
    const ms = lastDownloaded - started;
    if (process.env.FLEET_SLOWEST) {
      const downloadedAt = (r: any) => Date.parse(r.history.find((h: { to: string }) => h.to === 'downloaded')?.at ?? r.updatedAt);
      const slowest = records.reduce((a, b) => (downloadedAt(b) > downloadedAt(a) ? b : a));
      process.stderr.write(`slowest delivery ${slowest.endpoint ?? ''}: ${JSON.stringify(slowest.history.map((h: any) => [h.to, Date.parse(h.at) - started]))} ${slowest.reason ?? ''} result ${slowest.result} bytes ${slowest.bytes}\n`);
    }
    return { ok: ok.length, ms, mbPerS: (ok.length * imageLength) / 1e6 / (ms / 1000), processes: workers.length };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

interface FleetWorker {
  /** The endpoint names, once every device of the worker is registered. */
  ready: Promise<string[]>;
  /** Once every device of the worker has installed the image, or failed to. */
  settled: Promise<void>;
  stop(): Promise<void>;
}

function startFleetWorker(coapUri: string, prefix: string, from: number, count: number): FleetWorker {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--fleet-worker'], { execArgv: tsxArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const ready = new Promise<string[]>((resolve, reject) => {
    child.once('exit', (code) => {
      settle();
      reject(new Error(`fleet worker exited with code ${code} before it was ready`));
    });
    child.on('message', (message: { ready?: string[]; settled?: boolean }) => {
      if (message.ready) resolve(message.ready);
      if (message.settled) settle();
    });
  });
  child.send({ coapUri, prefix, from, count, version: 'fleet-2' });
  let stopping: Promise<void> | undefined;
  return {
    ready,
    settled,
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

/**
 * The child side: registers its share of the fleet, tells the parent when every device has
 * run the image `version` (or ended its update with a failure result), then waits to be told
 * to stop. The check reads the devices' own state in this process: no request to the server.
 */
function runFleetWorker(): void {
  const fleet: SimulatedDevice[] = [];
  let watch: NodeJS.Timeout | undefined;
  process.on('message', (message: { coapUri?: string; prefix?: string; from?: number; count?: number; version?: string; stop?: boolean }) => {
    if (message.stop) {
      if (watch) clearInterval(watch);
      void Promise.all(fleet.map((d) => d.powerCut().catch(() => {}))).then(() => process.exit(0));
      return;
    }
    const { coapUri, prefix = 'fleet-', from = 0, count = 0, version } = message;
    const settled = (d: SimulatedDevice): boolean =>
      d.state === 'registered' && (d.firmware.reportedVersion === version || (d.firmware.state === 0 && d.firmware.result > 1));
    // Only the devices not yet done are looked at, twice a second: this runs beside the transfers.
    let pending: SimulatedDevice[] | undefined;
    watch = setInterval(() => {
      if (fleet.length < count) return;
      pending = (pending ?? fleet).filter((d) => !settled(d));
      if (pending.length > 0) return;
      clearInterval(watch);
      process.send!({ settled: true });
    }, 500);
    void (async () => {
      for (let i = 0; i < count; i += 50) {
        const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          new SimulatedDevice({ serverUri: coapUri!, endpointName: `${prefix}${from + i + j}`, lifetimeSec: 3600, rebootDelayMs: 10, firmware: { retainBytes: false } }),
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
 * Reads the deliveries a few at a time until each has finished (after the devices settled,
 * only the server's last confirmations can still be pending). The figures come from each
 * record's history timestamps, not from when this loop sees them.
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
          const body = (await getJson(`${base}/api/clients/${ep}/firmware`)) as { state: string };
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

/** `coap-client-notls -m get -b 1024` of `size` bytes from `coap-server-notls`, `times` times (ms each, process start included). */
async function libcoapGet(size: number, times: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fw-libcoap-'));
  const file = join(dir, 'image.bin');
  writeFileSync(file, pattern(size));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-d', '4'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    await run('coap-client-notls', ['-m', 'put', '-b', '1024', '-f', file, `coap://127.0.0.1:${port}/image`], { timeout: 60_000 });
    const out = join(dir, 'out.bin');
    const runs: number[] = [];
    for (let i = 0; i < times; i++) {
      const started = Date.now();
      await run('coap-client-notls', ['-m', 'get', '-b', '1024', '-o', out, `coap://127.0.0.1:${port}/image`], { timeout: 60_000 });
      runs.push(Date.now() - started);
    }
    return runs;
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

/** Runs `task` for every item, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

async function post(base: string, path: string, body: unknown): Promise<void> {
  const response = await jsonRequest('POST', `${base}${path}`, body);
  if (response.status !== 202) throw new Error(`POST ${path} answered ${response.status}: ${response.text}`);
}

async function getJson(url: string): Promise<unknown> {
  const response = await jsonRequest('GET', url);
  return JSON.parse(response.text) as unknown;
}

/**
 * The operator's side of the API for the bench: plain node:http over a few kept-alive
 * connections. fetch() cost this process about a millisecond of CPU per request, on the
 * two cores the server and the devices need while the fleet transfers.
 */
const apiAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function jsonRequest(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(url, { method, agent: apiAgent, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolvePromise({ status: response.statusCode ?? 0, text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

async function deliver(base: string, ep: string, firmwareId: string, method: string, withinMs: number): Promise<any> {
  await post(base, `/api/clients/${ep}/firmware`, { firmwareId, method });
  return waitFinished(base, ep, withinMs);
}

async function waitFinished(base: string, ep: string, withinMs: number): Promise<any> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const body = (await getJson(`${base}/api/clients/${ep}/firmware`)) as { state: string };
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
