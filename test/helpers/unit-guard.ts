// Setup file of the `unit` vitest project (vitest.config.ts): a unit test opens no socket, starts
// no process and loads no built bundle; those belong in test/integration. Each way out throws,
// naming itself, so a test that reaches one fails at once instead of slowing the fast suite.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

function refuse(what: string): never {
  throw new Error(`${what} in a unit test: move the test to test/integration (CONTRIBUTING.md, "Tests")`);
}

net.Server.prototype.listen = function listen() {
  refuse('a server listening on a socket');
};
net.Socket.prototype.connect = function connect() {
  refuse('a socket connection');
};
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = () => refuse(`child_process.${name}`);
}
// `import { spawn } from 'node:child_process'` reads the module's exports: make it see the above.
syncBuiltinESMExports();
