/** Starts the whole server in this process on free loopback ports, with a temporary data dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultServerConfig, type ServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { silentLogger } from '../../src/util/logger.js';

export interface TestServer extends RunningServer {
  baseUrl: string;
  coapUri: string;
}

export async function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-test-'));
  const server = await startServer(
    { ...defaultServerConfig, coapHost: '127.0.0.1', coapPort: 0, coapsPort: 0, bootstrapPort: 0, bootstrapCoapsPort: 0, httpPort: 0, dataDir, ...overrides },
    silentLogger,
  );
  return {
    ...server,
    baseUrl: `http://127.0.0.1:${server.httpPort}`,
    coapUri: `coap://127.0.0.1:${server.coapPort}`,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/**
 * One request to the HTTP API: a JSON body (a string goes as text/plain, for execute
 * arguments); answers the status and the parsed JSON body (undefined when empty).
 */
export async function api(server: { baseUrl: string }, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/**
 * Uploads an image as raw bytes (POST /api/firmware) and answers its id; any status but 201
 * throws with the server's answer.
 */
export async function uploadFirmware(baseUrl: string, image: Uint8Array, query: { name: string; version: string; deviceType?: string }): Promise<string> {
  const params = new URLSearchParams({ name: query.name, version: query.version, ...(query.deviceType ? { deviceType: query.deviceType } : {}) });
  const response = await fetch(`${baseUrl}/api/firmware?${params}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(image) });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}
