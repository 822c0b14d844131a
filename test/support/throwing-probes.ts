// Preloaded (`node --import tsx --import …/throwing-probes.ts`) into the REAL daemon by
// test/api/daemon-survives.test.ts to break it from the inside, the way a Node or library
// bug would. Nothing in the daemon is replaced; Node's own functions are made to throw:
// - every health probe: http.request throws synchronously, as it does for a path with a space
//   (ERR_UNESCAPED_CHARACTERS), and net.connect throws for the TCP-checked port (PROBE_TCP_PORT);
// - on SIGUSR2: one promise rejection nobody handles and one exception nobody catches.
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const PROBE_TCP_PORT = 8081;

const originalRequest = http.request;
http.request = ((...args: Parameters<typeof http.request>) => {
  const options = args[0] as http.RequestOptions;
  if (typeof options === 'object' && options.headers && (options.headers as Record<string, string>)['user-agent'] === 'portcullis-health') {
    throw Object.assign(new TypeError('Request path contains unescaped characters (injected)'), { code: 'ERR_UNESCAPED_CHARACTERS' });
  }
  return originalRequest(...args);
}) as typeof http.request;

const originalConnect = net.connect;
net.connect = ((...args: unknown[]) => {
  const options = args[0] as net.NetConnectOpts & { port?: number };
  if (typeof options === 'object' && options.port === PROBE_TCP_PORT) throw new RangeError('socket table corrupted (injected)');
  return (originalConnect as (...a: unknown[]) => net.Socket)(...args);
}) as typeof net.connect;

// ESM named imports of builtins (`import { request } from 'node:http'`) see the change too.
syncBuiltinESMExports();

process.on('SIGUSR2', () => {
  void Promise.reject(new Error('injected: a rejection nobody handles'));
  setImmediate(() => { throw new Error('injected: an exception nobody catches'); });
});
