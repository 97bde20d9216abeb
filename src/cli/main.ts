// Entry point of the `ballast` command (bin/ballast.js imports this module).
import { processIo } from './io.js';
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), processIo);
process.exit(code);
