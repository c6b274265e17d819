/**
 * `lwm2m-server campaign create|start|pause|resume|abort|status|list`: rollout campaigns
 * through the HTTP API of a running server. `status --watch` shows one progress bar per
 * stage (cli-progress) on a terminal, and plain periodic lines otherwise.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';

interface Common {
  server: string;
}

type Json = Record<string, unknown>;

export function registerCampaignCommand(program: Command): void {
  const campaign = program.command('campaign').description('staged rollout campaigns (through the HTTP API of a running server)');
  const server = (cmd: Command): Command => cmd.option('--server <url>', 'HTTP API of the server', 'http://127.0.0.1:8080');

  server(campaign.command('create'))
    .description('create a campaign (draft) for an uploaded image; prints it')
    .requiredOption('--firmware <id>', 'the image id')
    .option('--spec <file>', 'JSON file with target, plan, gates, limits, policy')
    .option('--target <json>', 'target filter, e.g. {"deviceTypes":["sensor"]}')
    .option('--plan <json>', 'plan, e.g. {"canary":{"count":5},"stages":[{"percent":10},{"remaining":true}]}')
    .option('--severity <level>', 'critical, major or minor')
    .option('--dry-run', 'only show the stage sizes for the current population')
    .option('--start', 'start it right away')
    .action(async (flags: Common & { firmware: string; spec?: string; target?: string; plan?: string; severity?: string; dryRun?: boolean; start?: boolean }) => {
      const body: Json = flags.spec ? (JSON.parse(readFileSync(flags.spec, 'utf8')) as Json) : {};
      body.firmwareId = flags.firmware;
      if (flags.target) body.target = parseJson(flags.target, '--target');
      if (flags.plan) body.plan = parseJson(flags.plan, '--plan');
      if (flags.severity) body.policy = { ...(body.policy as Json | undefined), severity: flags.severity };
      const created = await call(flags.server, 'POST', `/api/campaigns${flags.dryRun ? '?dryRun=true' : ''}`, body);
      if (flags.dryRun) {
        for (const stage of created.stages as Array<{ name: string; size: number }>) out(`${stage.name.padEnd(12)} ${stage.size}`);
        return;
      }
      const result = flags.start ? await call(flags.server, 'POST', `/api/campaigns/${String(created.id)}/start`) : created;
      out(summaryLine(result));
    });

  for (const action of ['start', 'pause', 'resume', 'abort'] as const) {
    server(campaign.command(`${action} <id>`))
      .description(`${action} a campaign`)
      .action(async (id: string, flags: Common) => out(summaryLine(await call(flags.server, 'POST', `/api/campaigns/${encodeURIComponent(id)}/${action}`))));
  }

  server(campaign.command('list'))
    .description('every campaign, one line each')
    .action(async (flags: Common) => {
      const list = (await call(flags.server, 'GET', '/api/campaigns')) as unknown as Json[];
      for (const c of list) out(summaryLine(c));
    });

  server(campaign.command('status <id>'))
    .description("a campaign's stages; --watch keeps refreshing until it completes or is aborted")
    .option('--watch', 'live progress')
    .option('--interval <seconds>', 'refresh period with --watch', '2')
    .option('--json', 'print the JSON the API returns')
    .action(async (id: string, flags: Common & { watch?: boolean; interval: string; json?: boolean }) => {
      const path = `/api/campaigns/${encodeURIComponent(id)}`;
      if (!flags.watch) {
        const c = await call(flags.server, 'GET', path);
        out(flags.json ? JSON.stringify(c, null, 2) : statusText(c));
        return;
      }
      await watch(flags.server, path, Math.max(0.2, Number(flags.interval) || 2) * 1000);
    });
}

async function watch(server: string, path: string, intervalMs: number): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const bars = tty
    ? new cliProgress.MultiBar({ clearOnComplete: false, hideCursor: true, format: '{name} |{bar}| {value}/{total} {state} {detail}' }, cliProgress.Presets.shades_classic)
    : undefined;
  const stageBars = new Map<number, cliProgress.SingleBar>();
  for (;;) {
    const c = await call(server, 'GET', path);
    const stages = c.stages as Json[];
    if (bars) {
      for (const stage of stages) {
        const index = stage.index as number;
        const done = num(stage.succeeded) + num(stage.failed) + num(stage.skipped) + num(stage.cancelled);
        const payload = { name: String(stage.name).padEnd(10), state: String(stage.state).padEnd(8), detail: stageDetail(stage) };
        let bar = stageBars.get(index);
        if (!bar) {
          bar = bars.create(Math.max(1, num(stage.size)), done, payload);
          stageBars.set(index, bar);
        }
        bar.setTotal(Math.max(1, num(stage.size)));
        bar.update(done, payload);
      }
    } else {
      out(statusText(c));
    }
    if (c.state === 'completed' || c.state === 'aborted') break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  bars?.stop();
  if (bars) out(summaryLine(await call(server, 'GET', path)));
}

function stageDetail(stage: Json): string {
  const parts = [`ok ${num(stage.succeeded)}`, `fail ${num(stage.failed)}`];
  if (num(stage.transferring)) parts.push(`xfer ${num(stage.transferring)}`);
  if (num(stage.waitingForWindow)) parts.push(`wait ${num(stage.waitingForWindow)}`);
  if (num(stage.skipped)) parts.push(`skip ${num(stage.skipped)}`);
  return parts.join(' ');
}

function statusText(c: Json): string {
  const lines = [summaryLine(c)];
  if (c.haltReason) lines.push(`  HALTED: ${String(c.haltReason)}`);
  for (const stage of (c.stages as Json[] | undefined) ?? []) {
    lines.push(`  ${String(stage.name).padEnd(10)} ${String(stage.state).padEnd(8)} size ${num(stage.size)}  ${stageDetail(stage)}  eta ${String(stage.eta ?? '-')}`);
  }
  return lines.join('\n');
}

function summaryLine(c: Json): string {
  const devices = (c.devices ?? {}) as Record<string, number>;
  return `${String(c.id)}  ${String(c.state).padEnd(9)} ${String(c.name)}  population ${num(c.population)}  succeeded ${devices.succeeded ?? 0}  failed ${devices.failed ?? 0}${c.currentStage ? `  stage ${String(c.currentStage)}` : ''}`;
}

async function call(server: string, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(new URL(path, server), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text === '' ? {} : (JSON.parse(text) as Json);
  if (!response.ok) throw new Error(`${response.status} ${String(json.error ?? '')}: ${String(json.detail ?? text)}`);
  return json;
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${flag} is not JSON: ${(err as Error).message}`);
  }
}

const num = (value: unknown): number => (typeof value === 'number' ? value : 0);
const out = (line: string): void => void process.stdout.write(`${line}\n`);
