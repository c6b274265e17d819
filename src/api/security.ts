/**
 * /api/security: the devices' credentials (Leshan's routes and shape) and the server's own
 * public credentials. Keys are write-only: no answer ever carries a PSK or private key.
 */
import type { FastifyInstance } from 'fastify';
import type { SecurityRegistry } from '../security/security-registry.js';
import type { ServerCredentialsView } from '../security/server-credentials.js';
import { StoreConflictError, type AuditLog } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { ApiError } from './errors.js';
import { checkEndpointName, securityInfoFromJson, securityInfoToJson } from './security-json.js';

export interface SecurityApiDeps {
  registry: SecurityRegistry;
  /** What GET /api/security/server shows; undefined when CoAPS is off. */
  serverCredentials: () => ServerCredentialsView | undefined;
  audit?: AuditLog;
  logger?: Logger;
}

export function registerSecurityRoutes(app: FastifyInstance, deps: SecurityApiDeps): void {
  const { registry } = deps;

  const record = (action: string, endpoint: string, detail: Record<string, string>): void => {
    deps.audit?.append({ at: Date.now(), actor: 'api', action, subject: endpoint, detail }).catch((err: unknown) => {
      deps.logger?.error({ err, action, endpoint }, 'could not write the audit log');
    });
  };

  const put = async (endpoint: string, body: unknown) => {
    const info = securityInfoFromJson(endpoint, body);
    try {
      await registry.put(info);
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ApiError(409, 'conflict', err.message);
      throw err;
    }
    record('security.put', endpoint, { mode: info.mode });
    return securityInfoToJson(info);
  };

  app.get('/api/security/clients', async () => registry.entries().map(securityInfoToJson));

  app.get<{ Params: { endpoint: string } }>('/api/security/clients/:endpoint', async (request) => {
    const info = registry.get(request.params.endpoint);
    if (!info) throw unknown(request.params.endpoint);
    return securityInfoToJson(info);
  });

  app.put<{ Params: { endpoint: string } }>('/api/security/clients/:endpoint', async (request) => put(request.params.endpoint, request.body));

  // Leshan's form: the endpoint travels in the body.
  app.put('/api/security/clients', async (request) => {
    const body = request.body as { endpoint?: unknown } | undefined;
    if (typeof body?.endpoint !== 'string') throw new ApiError(400, 'bad security info', 'PUT /api/security/clients needs "endpoint" in the body (or use /api/security/clients/{endpoint})');
    return put(body.endpoint, body);
  });

  app.delete<{ Params: { endpoint: string } }>('/api/security/clients/:endpoint', async (request, reply) => {
    const endpoint = request.params.endpoint;
    checkEndpointName(endpoint);
    if (!(await registry.remove(endpoint))) throw unknown(endpoint);
    record('security.delete', endpoint, {});
    return reply.code(204).send();
  });

  app.get('/api/security/server', async () => {
    const view = deps.serverCredentials();
    if (!view) throw new ApiError(404, 'coaps disabled', 'this server runs no CoAPS listener, so it has no DTLS credentials');
    return view;
  });
}

function unknown(endpoint: string): ApiError {
  return new ApiError(404, 'unknown endpoint', `no security info for endpoint "${endpoint}"`);
}
