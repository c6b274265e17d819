/**
 * GET /api/server: version, uptime, registration count and memory. `?gc=true` collects
 * garbage first when node runs with --expose-gc, so the memory benchmark reads the live
 * heap rather than whatever garbage happens to be waiting.
 */
import type { FastifyInstance } from 'fastify';

export interface ServerInfoSource {
  version: string;
  startedAt: number;
  registrationCount(): number;
}

export function registerServerInfoRoutes(app: FastifyInstance, source: ServerInfoSource): void {
  app.get<{ Querystring: { gc?: string } }>('/api/server', async (request) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const collected = request.query.gc === 'true' && typeof gc === 'function';
    if (collected) gc();
    const memory = process.memoryUsage();
    return {
      version: source.version,
      uptimeSec: Math.floor((Date.now() - source.startedAt) / 1000),
      registrations: source.registrationCount(),
      memory: { heapUsed: memory.heapUsed, rss: memory.rss },
      gcCollected: collected,
    };
  });
}
