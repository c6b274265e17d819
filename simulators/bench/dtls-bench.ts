/**
 * DTLS benchmark (short, ~45 s): full PSK and ECDHE-ECDSA (raw public keys both ways)
 * handshakes per second, CoAP request rate over established DTLS-PSK sessions versus plain
 * CoAP in the same run (median of three alternating rounds; goal: at least 0.5), and the
 * server's heap per established session at 10,000 sessions (goal: at most 2 KiB).
 *
 * Three processes, so no party steals another's event loop: this one orchestrates, a
 * server child runs our DTLS server transport with a CoapEndpoint (and the same handler on
 * plain UDP), a generator child runs our DTLS client. The same file is all three roles.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../src/coap/udp-transport.js';
import { CoapCode, type DatagramTransport } from '../../src/coap/types.js';
import { connectDtls, type DtlsClientTransport } from '../../src/dtls/client/index.js';
import { bindDtlsTransport } from '../../src/dtls/index.js';
import { medianBy } from './median.js';

const ROLE_FLAG = '--dtls-bench-role=';
const PSK = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const HANDSHAKE_MS = 3000;
const REQUEST_MS = 3000;
/**
 * Plain and DTLS request runs alternate this many times (order swapped every round) and the
 * ratio is the median of the rounds' ratios, as for the registration figures: one pair of
 * runs moved by ±0.06 between runs of the same build on this shared machine.
 */
const REQUEST_ROUNDS = 3;
const REQUEST_SESSIONS = 16;
const REQUEST_WINDOW = 8;
const MEMORY_SESSIONS = 10_000;

export interface DtlsBenchResults {
  pskHandshakesPerSecond: number;
  ecdheHandshakesPerSecond: number;
  dtlsRequestsPerSecond: number;
  plainRequestsPerSecond: number;
  /** DTLS-PSK request rate / plain CoAP request rate, the median of the rounds (goal >= 0.5); the two rates are that round's. */
  dtlsToPlain: number;
  /** Each round's [plain, DTLS] request rates. */
  requestRounds: Array<[plain: number, dtls: number]>;
  memory: { sessions: number; heapBytesPerSession: number; rssBytesPerSession: number };
  errors: string[];
}

interface Keys {
  serverKeyPem: string;
  serverSpki: string;
  clientKeyPem: string;
  clientSpki: string;
}

type Task =
  | { kind: 'handshakes'; mode: 'psk' | 'ecdhe'; port: number; durationMs: number; concurrency: number; keys: Keys }
  | { kind: 'requests'; port: number; secure: boolean; durationMs: number }
  | { kind: 'sessions'; port: number; count: number; concurrency: number };

// ---- orchestrator --------------------------------------------------------------------

const self = fileURLToPath(import.meta.url);
const log = (line: string): void => void process.stdout.write(line + '\n');

/**
 * Our own node flags minus -e/-p and their code: when the bench is started with
 * `node -e "import(...).then(m => m.runDtlsBench())"`, passing them on would make every child
 * run the orchestrator again (each forking two more children, without end).
 */
function inheritableExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=') || a === '-pe') {
      if (a === '-pe') i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

function spawnRole(role: 'server' | 'generator', extraExecArgv: string[] = []): ChildProcess {
  return fork(self, [`${ROLE_FLAG}${role}`], { execArgv: [...inheritableExecArgv(), ...extraExecArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench child exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (reply: { ok?: T; error?: string }) => {
      child.off('exit', onExit);
      if (reply.error !== undefined) reject(new Error(reply.error));
      else resolve(reply.ok as T);
    });
    child.send(message as object);
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function makeKeys(): Keys {
  const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const s = pair();
  const c = pair();
  return {
    serverKeyPem: s.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serverSpki: s.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
    clientKeyPem: c.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    clientSpki: c.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
  };
}

interface ServerPorts {
  dtls: number;
  plain: number;
}
interface ServerMemory {
  sessions: number;
  heapUsed: number;
  rss: number;
}

export async function runDtlsBench(): Promise<DtlsBenchResults> {
  const keys = makeKeys();
  const errors: string[] = [];
  const server = spawnRole('server', ['--expose-gc']);
  const generator = spawnRole('generator');
  const results: DtlsBenchResults = {
    pskHandshakesPerSecond: 0, ecdheHandshakesPerSecond: 0, dtlsRequestsPerSecond: 0, plainRequestsPerSecond: 0, dtlsToPlain: 0, requestRounds: [],
    memory: { sessions: 0, heapBytesPerSession: 0, rssBytesPerSession: 0 }, errors,
  };
  try {
    const ports = await ask<ServerPorts>(server, { kind: 'start', keys });
    const attempt = async (name: string, body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } catch (err) {
        errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        log(`  ${name} failed: ${errors.at(-1)}`);
      }
    };
    await attempt('psk handshakes', async () => {
      results.pskHandshakesPerSecond = await ask<number>(generator, { kind: 'handshakes', mode: 'psk', port: ports.dtls, durationMs: HANDSHAKE_MS, concurrency: 16, keys } satisfies Task);
      log(`  DTLS full PSK handshakes        ${results.pskHandshakesPerSecond.toFixed(0).padStart(7)} /s`);
    });
    await attempt('ecdhe handshakes', async () => {
      results.ecdheHandshakesPerSecond = await ask<number>(generator, { kind: 'handshakes', mode: 'ecdhe', port: ports.dtls, durationMs: HANDSHAKE_MS, concurrency: 16, keys } satisfies Task);
      log(`  DTLS full ECDHE-ECDSA (RPK) hs  ${results.ecdheHandshakesPerSecond.toFixed(0).padStart(7)} /s`);
    });
    await attempt('requests', async () => {
      const run = (secure: boolean) =>
        ask<number>(generator, { kind: 'requests', port: secure ? ports.dtls : ports.plain, secure, durationMs: REQUEST_MS } satisfies Task);
      for (let round = 0; round < REQUEST_ROUNDS; round++) {
        let plain: number;
        let dtls: number;
        if (round % 2 === 0) {
          plain = await run(false);
          dtls = await run(true);
        } else {
          dtls = await run(true);
          plain = await run(false);
        }
        results.requestRounds.push([plain, dtls]);
        log(`  round ${round + 1}: CoAP GET plain ${plain.toFixed(0).padStart(7)} /s, DTLS-PSK ${dtls.toFixed(0).padStart(7)} /s (ratio ${(dtls / plain).toFixed(2)})`);
      }
      const [plain, dtls] = medianBy(results.requestRounds, ([p, d]) => d / p);
      results.plainRequestsPerSecond = plain;
      results.dtlsRequestsPerSecond = dtls;
      results.dtlsToPlain = dtls / plain;
      log(`  CoAP GET over plain UDP         ${plain.toFixed(0).padStart(7)} /s  (median round)`);
      log(`  CoAP GET over DTLS-PSK          ${dtls.toFixed(0).padStart(7)} /s  (ratio ${results.dtlsToPlain.toFixed(2)}, goal >= 0.5)`);
    });
    await attempt('memory', async () => {
      const before = await ask<ServerMemory>(server, { kind: 'memory' });
      const established = await ask<number>(generator, { kind: 'sessions', port: ports.dtls, count: MEMORY_SESSIONS, concurrency: 64 } satisfies Task);
      const after = await ask<ServerMemory>(server, { kind: 'memory' });
      const sessions = after.sessions - before.sessions;
      if (sessions <= 0) throw new Error(`no session was established (generator reported ${established})`);
      results.memory = { sessions, heapBytesPerSession: (after.heapUsed - before.heapUsed) / sessions, rssBytesPerSession: (after.rss - before.rss) / sessions };
      log(`  server heap per DTLS session    ${results.memory.heapBytesPerSession.toFixed(0).padStart(7)} B at ${sessions} sessions (goal <= 2048)`);
    });
  } finally {
    await stop(generator);
    await stop(server);
  }
  return results;
}

// ---- server role ---------------------------------------------------------------------

async function serverRole(): Promise<void> {
  let dtls: Awaited<ReturnType<typeof bindDtlsTransport>> | undefined;
  const handler = () => ({ code: CoapCode.Content, payload: Buffer.from('ok') });
  process.on('message', (message: { kind: string; keys?: Keys }) => {
    void (async () => {
      try {
        if (message.kind === 'start') {
          const keys = message.keys!;
          const clientSpki = Buffer.from(keys.clientSpki, 'hex');
          dtls = await bindDtlsTransport({
            host: '127.0.0.1',
            port: 0,
            psk: { pskFor: () => PSK },
            ecdsa: { privateKeyPem: keys.serverKeyPem, rawPublicKey: true, rpkAllowed: (k) => k.equals(clientSpki) },
            // One source IP generates everything: lift the per-IP and global handshake guards.
            limits: { maxSessions: MEMORY_SESSIONS + 1000, maxHandshakesInProgress: 5000, handshakeBurstPerIp: 1e9, handshakesPerIpPerSecond: 1e9 },
          });
          new CoapEndpoint({ transport: dtls }).setRequestHandler(handler);
          const plain: DatagramTransport = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
          new CoapEndpoint({ transport: plain }).setRequestHandler(handler);
          process.send!({ ok: { dtls: dtls.address().port, plain: plain.address().port } satisfies ServerPorts });
        } else if (message.kind === 'memory') {
          const gc = (globalThis as { gc?: () => void }).gc;
          for (let i = 0; i < 3; i++) gc?.();
          const usage = process.memoryUsage();
          process.send!({ ok: { sessions: dtls?.stats().sessions ?? 0, heapUsed: usage.heapUsed, rss: usage.rss } satisfies ServerMemory });
        }
      } catch (err) {
        process.send!({ error: String(err) });
      }
    })();
  });
}

// ---- generator role ------------------------------------------------------------------

const quick = { retransmission: { initialMs: 500, maxRetransmissions: 4 } };

function connectFor(mode: 'psk' | 'ecdhe', port: number, keys?: Keys): Promise<DtlsClientTransport> {
  if (mode === 'psk') return connectDtls({ host: '127.0.0.1', port, psk: { identity: 'bench', key: PSK }, ...quick });
  return connectDtls({
    host: '127.0.0.1',
    port,
    ecdsa: { privateKeyPem: keys!.clientKeyPem, rawPublicKey: true, serverPublicKeyDer: Buffer.from(keys!.serverSpki, 'hex') },
    ...quick,
  });
}

async function handshakes(task: Extract<Task, { kind: 'handshakes' }>): Promise<number> {
  let done = 0;
  const until = Date.now() + task.durationMs;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const t = await connectFor(task.mode, task.port, task.keys);
      done++;
      await t.close();
    }
  };
  await Promise.all(Array.from({ length: task.concurrency }, worker));
  return done / ((Date.now() - started) / 1000);
}

/** A CON GET /b with a 2-byte token, built by hand so the generator stays cheap. */
function getRequest(messageId: number): Buffer {
  return Buffer.from([0x42, 0x01, messageId >> 8, messageId & 0xff, messageId >> 8, messageId & 0xff, 0xb1, 0x62]);
}

async function requests(task: Extract<Task, { kind: 'requests' }>): Promise<number> {
  const transports: DatagramTransport[] = [];
  for (let i = 0; i < REQUEST_SESSIONS; i++) {
    transports.push(task.secure ? await connectFor('psk', task.port) : await bindUdpTransport({ host: '127.0.0.1', port: 0 }));
  }
  const server = { address: '127.0.0.1', port: task.port };
  let answered = 0;
  let counting = false;
  let stopped = false;
  const warmup = 500;
  transports.forEach((t, index) => {
    let nextId = index * 4096;
    const fire = (): void => {
      nextId = (nextId + 1) & 0xffff;
      t.send(getRequest(nextId), server);
    };
    t.onDatagram((d) => {
      if (d.length < 4 || d[1] !== CoapCode.Content) return;
      if (counting) answered++;
      if (!stopped) fire();
    });
    for (let w = 0; w < REQUEST_WINDOW; w++) fire();
  });
  await new Promise((r) => setTimeout(r, warmup));
  counting = true;
  const started = Date.now();
  await new Promise((r) => setTimeout(r, task.durationMs));
  counting = false;
  stopped = true;
  const rate = answered / ((Date.now() - started) / 1000);
  for (const t of transports) await t.close();
  return rate;
}

const held: DtlsClientTransport[] = [];

async function sessions(task: Extract<Task, { kind: 'sessions' }>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < task.count) {
      next++;
      held.push(await connectFor('psk', task.port));
    }
  };
  await Promise.all(Array.from({ length: task.concurrency }, worker));
  return held.length;
}

function generatorRole(): void {
  process.on('message', (task: Task) => {
    const run = task.kind === 'handshakes' ? handshakes(task) : task.kind === 'requests' ? requests(task) : sessions(task);
    run.then(
      (ok) => process.send!({ ok }),
      (err: unknown) => process.send!({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

const role = process.argv.find((a) => a.startsWith(ROLE_FLAG))?.slice(ROLE_FLAG.length);
if (role === 'server') void serverRole();
else if (role === 'generator') generatorRole();
else if (process.argv[1] === self) {
  runDtlsBench().then(
    (r) => log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      log(String(err));
      process.exitCode = 1;
    },
  );
}
