/**
 * Process plumbing for the benchmarks: every party (echo baseline, node-coap, our server,
 * the load generator) runs in its own process so none steals the other's event loop.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LoadOptions, LoadResult } from './load-core.js';

export interface ListeningProcess {
  child: ChildProcess;
  coapPort: number;
  httpPort?: number;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Starts `node <execArgv> <script> <args>` and waits for its `{"msg":"listening",...}` line
 * on stdout (the contract shared by our server's CLI and the bench peers).
 */
export function startListening(script: string, args: string[] = [], execArgv: string[] = []): Promise<ListeningProcess> {
  const child = spawn(process.execPath, [...execArgv, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${script} did not print its "listening" line within ${STARTUP_TIMEOUT_MS} ms`));
    }, STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with code ${code} before listening`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let parsed: { msg?: unknown; coap?: unknown; http?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.msg !== 'listening' || typeof parsed.coap !== 'number') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        child,
        coapPort: parsed.coap,
        httpPort: typeof parsed.http === 'number' ? parsed.http : undefined,
        stop,
      });
    });
  });
}

/** Runs the load generator once in a forked child and returns its figures. */
export function runGenerator(generatorScript: string, options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(generatorScript, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.once('message', (message: { result?: LoadResult; error?: string }) => {
      settled = true;
      if (message.result) resolve(message.result);
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with code ${code} without a result`));
    });
    child.send(options);
  });
}
