/**
 * The baseline: a raw dgram server that sends every datagram straight back. Nothing CoAP can
 * do is faster on this machine, so every other rate is reported as a fraction of this one.
 * Prints `{"msg":"listening","coap":PORT}` on stdout, like the real server's CLI.
 */
import dgram from 'node:dgram';

const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
socket.on('message', (datagram, remote) => socket.send(datagram, remote.port, remote.address));
socket.bind(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'listening', coap: socket.address().port }) + '\n');
});
const stop = (): void => {
  socket.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
