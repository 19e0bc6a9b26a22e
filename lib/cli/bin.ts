import { main } from './main.js';

// The `aisoc-k8s-audit` executable (dist/cli.mjs). Long-running commands (serve, tail) resolve
// only when they are done, so setting the exit code here never cuts them short.
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
