/**
 * A node's Remoting service alone, in its own process, for link tests that stop or kill the peer:
 * `node --import tsx test/support/remoting-peer.ts`; VIGIL_TOKENS holds its tokens; it prints
 * `port <n>` when it listens. Handler: type "echo" answers the payload, "fail" answers NOT_FOUND.
 */
import { silentLogger } from '../../src/obs/logger.js';
import { TokenAuthority } from '../../src/transport/auth.js';
import { addRemotingService } from '../../src/transport/grpc/remoting.js';
import { startGrpcServer } from '../../src/transport/grpc/server.js';
import { callError } from '../../src/transport/grpc/status.js';

const running = await startGrpcServer(
  {
    address: `127.0.0.1:${process.env['PEER_PORT'] ?? '0'}`,
    security: { insecureDevelopmentOnly: true },
    tokens: TokenAuthority.parse(process.env['VIGIL_TOKENS'] ?? ''),
    logger: silentLogger,
  },
  (server, grpc) => {
    addRemotingService(
      server,
      grpc,
      'peer',
      (target, type, payload) =>
        type === 'echo'
          ? Promise.resolve({ target, payload })
          : Promise.reject(callError('NOT_FOUND', `nothing at ${target}`)),
      silentLogger,
    );
  },
);
process.stdout.write(`port ${running.port}\n`);
process.on('SIGTERM', () => {
  void running.stop();
});
