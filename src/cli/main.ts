#!/usr/bin/env node
/** `lwm2m-server`: the command line. Each command group lives in its own file. */
import { Command } from 'commander';
import { registerServeCommand } from './serve.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerFirmwareSignCommands } from './commands/firmware-sign.js';
import { registerCampaignCommand } from './commands/campaign.js';
import { SERVER_VERSION } from '../server.js';

const program = new Command()
  .name('lwm2m-server')
  .description('LwM2M device-management server for secure, staged firmware updates')
  .version(SERVER_VERSION);

registerServeCommand(program);
registerKeysCommand(program);
registerFirmwareSignCommands(program);
registerCampaignCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`lwm2m-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
