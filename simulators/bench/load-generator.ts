/**
 * Child-process entry of the load generator (forked by run.ts so the generator never shares
 * a CPU core's event loop with the server it measures). Protocol over the IPC channel: the
 * parent sends one LoadOptions message, the child answers one `{ result }` or `{ error }`
 * message and exits.
 */
import { runLoad, type LoadOptions } from './load-core.js';

process.once('message', (message: unknown) => {
  runLoad(message as LoadOptions).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ error: String(error) }, () => process.exit(1)),
  );
});
