// Runs an aisoc-k8s-audit command with captured output, as a user would see it.
export { runCli as runCommand } from './cli.js';
