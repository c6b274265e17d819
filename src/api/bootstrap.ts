/**
 * Bootstrap configurations: `GET /api/bootstrap` lists them, `GET|PUT|DELETE
 * /api/bootstrap/{ep}` reads, sets and removes one. A configuration is validated by the
 * bootstrap layer's parser, so a bad one is refused here with the same reason the session
 * would give; key material is accepted but never shown back.
 */
import type { FastifyInstance } from 'fastify';
import { BootstrapConfigError, parseBootstrapConfig, redactBootstrapConfig, type BootstrapConfig } from '../lwm2m/bootstrap/config.js';
import type { BootstrapSessionStatus } from '../lwm2m/bootstrap/bootstrap-server.js';
import { StoreConflictError, type AuditLog, type BootstrapConfigStore, type JsonObject } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { ApiError } from './errors.js';

export interface BootstrapApiDeps {
  configs: BootstrapConfigStore;
  audit?: AuditLog;
  /** The endpoint's current or last session, when a bootstrap listener runs. */
  session?: (endpoint: string) => BootstrapSessionStatus | undefined;
  logger?: Logger;
}

function validated(body: unknown): BootstrapConfig {
  if (body === undefined) throw new ApiError(400, 'invalid bootstrap configuration', 'the body must be a JSON configuration like {"servers": [...]}');
  try {
    return parseBootstrapConfig(body);
  } catch (err) {
    if (err instanceof BootstrapConfigError) throw new ApiError(400, 'invalid bootstrap configuration', err.message);
    throw err;
  }
}

/** What was stored is trusted only as far as the parser says; an unreadable row is shown as such, not hidden. */
function shown(endpoint: string, stored: JsonObject): Record<string, unknown> {
  try {
    return { endpoint, config: redactBootstrapConfig(parseBootstrapConfig(stored)) };
  } catch (err) {
    return { endpoint, invalid: (err as Error).message };
  }
}

export function registerBootstrapRoutes(app: FastifyInstance, deps: BootstrapApiDeps): void {
  const audit = async (action: string, endpoint: string): Promise<void> => {
    try {
      await deps.audit?.append({ at: Date.now(), actor: 'api', action, subject: endpoint });
    } catch (err) {
      deps.logger?.error({ err, endpoint }, 'could not record a bootstrap configuration change');
    }
  };

  app.get('/api/bootstrap', async () => {
    const all = await deps.configs.list();
    return all.map(({ endpoint, config }) => shown(endpoint, config));
  });

  app.get<{ Params: { endpoint: string } }>('/api/bootstrap/:endpoint', async (request) => {
    const { endpoint } = request.params;
    const stored = await deps.configs.get(endpoint);
    if (!stored) throw new ApiError(404, 'unknown bootstrap configuration', `no bootstrap configuration for endpoint "${endpoint}"`);
    const session = deps.session?.(endpoint);
    return { ...shown(endpoint, stored), session: session ?? null };
  });

  app.put<{ Params: { endpoint: string } }>('/api/bootstrap/:endpoint', async (request, reply) => {
    const { endpoint } = request.params;
    const config = validated(request.body);
    const existed = (await deps.configs.get(endpoint)) !== undefined;
    // Stored normalised (hex in lower case, nothing unknown): the session reads exactly this.
    try {
      await deps.configs.put(endpoint, JSON.parse(JSON.stringify(config)) as JsonObject);
    } catch (err) {
      // E.g. a bootstrap PSK identity that already belongs to another endpoint.
      if (err instanceof StoreConflictError) throw new ApiError(409, 'conflict', err.message);
      throw err;
    }
    await audit(existed ? 'bootstrap.config.replaced' : 'bootstrap.config.created', endpoint);
    void reply.code(existed ? 200 : 201);
    return { endpoint, config: redactBootstrapConfig(config) };
  });

  app.delete<{ Params: { endpoint: string } }>('/api/bootstrap/:endpoint', async (request, reply) => {
    const { endpoint } = request.params;
    if (!(await deps.configs.remove(endpoint))) {
      throw new ApiError(404, 'unknown bootstrap configuration', `no bootstrap configuration for endpoint "${endpoint}"`);
    }
    await audit('bootstrap.config.deleted', endpoint);
    void reply.code(204);
  });
}
