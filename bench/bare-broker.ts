import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';

/**
 * A bare aedes broker behind Node's TLS server, in its own process like the emulator's: the baseline's broker.
 * Reads the certificate from BARE_BROKER_TLS_JSON, reports its port over IPC, stops when the parent disconnects.
 */
async function main(): Promise<void> {
  const tls = JSON.parse(process.env.BARE_BROKER_TLS_JSON ?? '{}') as { cert: string; key: string };
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = createServer(
    { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', noDelay: true },
    (socket) => {
      broker.handle(socket);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send?.({ port: (server.address() as AddressInfo).port });
  process.once('disconnect', () => {
    server.close();
    broker.close();
    process.exit(0);
  });
}

void main();
