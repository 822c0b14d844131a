// Preloaded into the REAL daemon (`--import …/throwing-probes.mjs`, or NODE_OPTIONS) by
// test/api/daemon-survives.test.ts and test/e2e/daemon-survives.test.ts to break it from the
// inside, the way a Node or library bug would. Nothing in the daemon is replaced; Node's own
// functions are made to throw:
// - every health probe: http.request throws synchronously, as it does for a path with a space
//   (ERR_UNESCAPED_CHARACTERS), and net.connect throws for the TCP-checked port (PROBE_TCP_PORT);
// - on SIGUSR2: one promise rejection nobody handles and one exception nobody catches.
// Plain JavaScript so it loads without tsx; harmless in any other process (it only touches
// requests carrying the prober's user-agent, connects to PROBE_TCP_PORT, and SIGUSR2).
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const PROBE_TCP_PORT = 8081;

const originalRequest = http.request;
http.request = (...args) => {
  const options = args[0];
  if (options && typeof options === 'object' && options.headers?.['user-agent'] === 'portcullis-health') {
    throw Object.assign(new TypeError('Request path contains unescaped characters (injected)'), { code: 'ERR_UNESCAPED_CHARACTERS' });
  }
  return originalRequest(...args);
};

const originalConnect = net.connect;
net.connect = (...args) => {
  const options = args[0];
  if (options && typeof options === 'object' && options.port === PROBE_TCP_PORT) throw new RangeError('socket table corrupted (injected)');
  return originalConnect(...args);
};

// ESM named imports of builtins (`import { request } from 'node:http'`) see the change too.
syncBuiltinESMExports();

process.on('SIGUSR2', () => {
  void Promise.reject(new Error('injected: a rejection nobody handles'));
  setImmediate(() => { throw new Error('injected: an exception nobody catches'); });
});
