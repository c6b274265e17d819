/**
 * Starts the real `lwm2m-server` command in a child process (through tsx, so tests need no
 * build step) and reads the ports from its "listening" line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  child: ChildProcess;
  coapPort: number;
  httpPort: number;
  /** Every stdout line so far (JSON log lines). */
  lines: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function runCli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', resolve(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A fresh data directory, so no test sees another's (or a developer's) ./data. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'lwm2m-cli-'));
}

export async function startServerProcess(extraArgs: string[] = []): Promise<ServerProcess> {
  const dataDirArgs = extraArgs.includes('--data-dir') ? [] : ['--data-dir', tempDataDir()];
  const child = runCli(['serve', '--coap-port', '0', '--coaps-port', '0', '--bootstrap-port', '0', '--bootstrap-coaps-port', '0', '--http-port', '0', '--coap-host', '127.0.0.1', ...dataDirArgs, ...extraArgs]);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const reader = createInterface({ input: child.stdout! });
  const ports = await new Promise<{ coap: number; http: number }>((resolvePorts, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not announce its ports in 20 s; stderr: ${stderr}`)), 20_000);
    reader.on('line', (line) => {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; coap?: number; http?: number };
        if (entry.msg === 'listening' && entry.coap !== undefined && entry.http !== undefined) {
          clearTimeout(timer);
          resolvePorts({ coap: entry.coap, http: entry.http });
        }
      } catch {
        /* not a JSON line: keep reading */
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return {
    child,
    coapPort: ports.coap,
    httpPort: ports.http,
    lines,
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolveExit) => {
        child.once('exit', (code) => resolveExit(code));
        child.kill(signal);
      });
    },
  };
}

/**
 * A UDP port that was free a moment ago, for tests that restart a server on the same port
 * (port 0 would give the restarted server a new one). Another process may take it in between;
 * on this machine that has not been seen.
 */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
