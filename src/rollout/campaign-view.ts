/**
 * What operators see of a campaign (HTTP API, CLI): per stage the counts of every phase,
 * the reasons devices wait, were skipped or failed, bytes sent and an ETA.
 */
import { FINAL_CAMPAIGN_STATES } from './campaign-machine.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import { DEVICE_PHASES, PHASE_INDEX, type DevicePhase } from './device-machine.js';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Reasons differ in their numbers ("14 s left"); grouped without them. */
const reasonKey = (reason: string): string => reason.replace(/\d+(\.\d+)?/g, '#');

export function campaignSummaryJson(c: CampaignRuntime): Record<string, unknown> {
  const totals = Object.fromEntries(DEVICE_PHASES.map((phase) => [phase, 0])) as Record<DevicePhase, number>;
  c.counts.forEach((counts) => DEVICE_PHASES.forEach((phase, p) => (totals[phase] += counts[p])));
  // Members of an open stage not admitted to its queue yet are pending all the same.
  c.doc.stages.forEach((stage, s) => {
    if (stage.state !== 'active') return;
    const notAdmitted = c.counts[s][PHASE_INDEX.planned];
    totals.planned -= notAdmitted;
    totals.pending += notAdmitted;
  });
  const active = c.doc.stages.findIndex((s) => s.state === 'active' || s.state === 'soaking');
  return {
    id: c.id,
    name: c.spec.name,
    state: c.state,
    firmwareId: c.spec.firmwareId,
    version: c.spec.imageVersion,
    severity: c.spec.policy.severity,
    rollbackOf: c.spec.rollbackOf ?? null,
    population: c.doc.population,
    currentStage: active < 0 ? null : c.doc.stages[active].name,
    devices: totals,
    bytesSent: c.stageBytes.reduce((a, b) => a + b, 0),
    haltReason: c.doc.haltReason ?? null,
    createdAt: iso(c.createdAt),
    startedAt: iso(c.doc.startedAt),
    finishedAt: iso(c.doc.finishedAt),
  };
}

export function campaignJson(c: CampaignRuntime, now: number): Record<string, unknown> {
  const reasons = c.doc.stages.map(() => ({ waiting: new Map<string, number>(), skipped: new Map<string, number>(), failed: new Map<string, number>() }));
  for (const [i, reason] of c.reasons()) {
    const phase = c.phaseOf(i);
    const group = phase === 'waiting' || phase === 'paused' || phase === 'downloaded' ? 'waiting' : phase === 'skipped' || phase === 'failed' ? phase : undefined;
    if (!group) continue;
    const map = reasons[c.stageOf[i]][group];
    const key = reasonKey(reason);
    map.set(key, (map.get(key) ?? 0) + 1);
  }
  let etaCursor: number | undefined = now;
  const stages = c.doc.stages.map((stage, s) => {
    const n = (phase: DevicePhase): number => c.counts[s][PHASE_INDEX[phase]];
    const finished = n('succeeded') + n('failed') + n('skipped') + n('cancelled');
    const unfinished = stage.size - finished;
    let eta: number | undefined;
    if (stage.state === 'passed') eta = stage.passedAt;
    else if (etaCursor !== undefined && stage.state === 'active' && stage.openedAt !== undefined) {
      const rate = finished / Math.max(1, now - stage.openedAt);
      eta = unfinished === 0 ? now : rate > 0 ? now + unfinished / rate : undefined;
    } else if (stage.state === 'soaking') eta = stage.drainedAt;
    if (eta !== undefined && s < c.doc.stages.length - 1) etaCursor = Math.max(etaCursor ?? eta, eta + stage.soakMs);
    else if (stage.state === 'planned') etaCursor = undefined;
    const group = (m: Map<string, number>): Array<{ reason: string; devices: number }> =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([reason, devices]) => ({ reason, devices }));
    return {
      index: s,
      name: stage.name,
      canary: stage.canary,
      state: stage.state,
      size: stage.size,
      joined: stage.joined,
      // Members of an open stage not admitted to its queue yet are pending all the same.
      planned: stage.state === 'active' ? 0 : n('planned'),
      pending: n('pending') + (stage.state === 'active' ? n('planned') : 0),
      waitingForWindow: n('waiting'),
      transferring: n('transferring'),
      paused: n('paused'),
      updating: n('downloaded') + n('updating'),
      succeeded: n('succeeded'),
      failed: n('failed'),
      skipped: n('skipped'),
      cancelled: n('cancelled'),
      reasons: { waiting: group(reasons[s].waiting), skipped: group(reasons[s].skipped), failed: group(reasons[s].failed) },
      bytesSent: c.stageBytes[s],
      soakSec: stage.soakMs / 1000,
      gates: stage.gates,
      openedAt: iso(stage.openedAt),
      drainedAt: iso(stage.drainedAt),
      soakEndsAt: stage.drainedAt === undefined ? null : iso(stage.drainedAt + stage.soakMs),
      passedAt: iso(stage.passedAt),
      eta: iso(eta),
    };
  });
  const last = stages.at(-1);
  return {
    ...campaignSummaryJson(c),
    stages,
    haltDevices: c.doc.haltDevices ?? [],
    eta: FINAL_CAMPAIGN_STATES.has(c.state) ? iso(c.doc.finishedAt) : (last?.eta ?? null),
    spec: c.spec,
  };
}

export function deviceRowsJson(c: CampaignRuntime, phase: DevicePhase | undefined, offset: number, limit: number): { total: number; devices: Array<Record<string, unknown>> } {
  const rows: Array<Record<string, unknown>> = [];
  let total = 0;
  for (let i = 0; i < c.size; i++) {
    if (phase !== undefined && c.phaseOf(i) !== phase) continue;
    total++;
    if (total <= offset || rows.length >= limit) continue;
    const d = c.detail(i);
    rows.push({
      endpoint: c.endpoint(i),
      stage: c.doc.stages[c.stageOf[i]].name,
      state: c.phaseOf(i),
      reason: d.reason ?? null,
      bytes: d.bytes,
      startedAt: iso(d.startedAt),
      reverted: d.reverted ?? false,
    });
  }
  return { total, devices: rows };
}
