/** The real `lwm2m-server serve` command, as a user starts it. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startServerProcess, type ServerProcess } from '../helpers/cli-process.js';

describe('lwm2m-server serve', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('announces the ports it chose in one JSON line, serves HTTP there, and stops cleanly on SIGTERM', async () => {
    server = await startServerProcess(['--log-level', 'warn']);
    expect(server.coapPort).toBeGreaterThan(0);
    expect(server.httpPort).toBeGreaterThan(0);
    const listening = server.lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'listening');
    expect(listening).toMatchObject({ msg: 'listening', coap: server.coapPort, http: server.httpPort });

    const response = await fetch(`http://127.0.0.1:${server.httpPort}/api/clients`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);

    expect(await server.stop('SIGTERM')).toBe(0);
  });

  it('refuses a port that is not a number, saying which flag is wrong', async () => {
    const child = runCli(['serve', '--coap-port', 'abc']);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('--coap-port must be a port number');
  });

  it('refuses a DTLS limit that is not a positive whole number, naming the flag', async () => {
    const child = runCli(['serve', '--coap-port', '0', '--dtls-max-sessions', '0']);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('--dtls-max-sessions must be a positive whole number, got "0"');
  });
});
