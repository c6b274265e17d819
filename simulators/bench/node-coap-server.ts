/**
 * node-coap's own server with an empty handler answering 2.01, for the README's decision
 * record (why the server has its own CoAP stack). Same stdout contract as echo-server.ts.
 */
import coap from 'coap';

const server = coap.createServer((_request, response) => {
  response.code = '2.01';
  response.end();
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', (error?: Error) => {
  if (error) throw error;
  // node-coap keeps its socket private; the bound port is only reachable through it.
  const socket = (server as unknown as { _sock: { address(): { port: number } } })._sock;
  process.stdout.write(JSON.stringify({ msg: 'listening', coap: socket.address().port }) + '\n');
});
const stop = (): void => {
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
