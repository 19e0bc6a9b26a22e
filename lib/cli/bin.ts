import { main } from './main.js';

// The AWS SDK warns on every run under Node < 22 that its releases after January 2027 will need
// Node 22. This package supports Node >= 20.19 (package.json engines), so the warning is not news
// for its users; the SDK's own switch turns it off (an operator's explicit setting is kept).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`normalise … | head`) closes the pipe, and the next write fails with
// EPIPE, which Node raises as an unhandled 'error' event with a stack trace. Stop quietly instead,
// as a command killed by SIGPIPE does, with exit 1: not all of the output was read.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(1);
});

// The `aisoc-k8s-audit` executable (dist/cli.mjs). Long-running commands (serve, tail) resolve
// only when they are done, so setting the exit code here never cuts them short.
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
