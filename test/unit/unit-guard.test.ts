import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';

// The unit project's guard (test/helpers/unit-guard.ts) is on: what belongs in test/integration fails here.
describe('the unit project', () => {
  it('refuses to listen on a socket or connect one', () => {
    expect(() => createServer().listen(0, '127.0.0.1')).toThrow(/move the test to test\/integration/);
    expect(() => connect(9, '127.0.0.1')).toThrow(/a socket connection in a unit test/);
  });

  it('refuses to start a process, however it is imported', () => {
    expect(() => spawn(process.execPath, ['-e', '0'])).toThrow(/child_process\.spawn in a unit test/);
    expect(() => execFileSync(process.execPath, ['-e', '0'])).toThrow(/child_process\.execFileSync in a unit test/);
  });
});
