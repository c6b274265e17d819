import type { SecurityInfo, SecurityInfoSummary } from './types.js';

/** The operator's view of security info: which keys exist, never the keys. */
export function summarize(info: SecurityInfo): SecurityInfoSummary {
  const summary: SecurityInfoSummary = {
    endpoint: info.endpoint,
    mode: info.mode,
    hasPskKey: info.pskKey !== undefined,
    hasRpkPublicKey: info.rpkPublicKey !== undefined,
    hasPrivateKey: info.privateKey !== undefined,
  };
  if (info.pskIdentity !== undefined) summary.pskIdentity = info.pskIdentity;
  if (info.x509Subject !== undefined) summary.x509Subject = info.x509Subject;
  return summary;
}
