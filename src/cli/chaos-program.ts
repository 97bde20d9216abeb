// Registration of `ballast chaos ...` on the commander program.
import type { Command } from 'commander';
import type { chaosRunCommand } from './chaos-commands.js';

const loadChaos = () => import('./chaos-commands.js');
import type { Io } from './io.js';

type Opts = Record<string, string | boolean | undefined>;

export function registerChaos(program: Command, io: Io, setCode: (code: number) => void): void {
  const chaos = program.command('chaos').description('break a multi-host deployment (network namespaces) on purpose and check the invariants');
  chaos
    .command('run')
    .description('deploy into DIR (as root), run a scenario or a seeded random schedule, check, report (DIR/report.json, DIR/report.html), tear down')
    .option('--dir <dir>', 'new or empty run directory (the postgres user must be able to traverse it, e.g. under /tmp)')
    .option('--scenario <name>', 'a named scenario (see ballast chaos scenarios)')
    .option('--random <n>', 'a random schedule of N faults')
    .option('--seed <s>', 'seed of the random choices (default 1)')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (o: Opts) => setCode(await (await loadChaos()).chaosRunCommand(io, o as Parameters<typeof chaosRunCommand>[1])));
  chaos
    .command('check')
    .description('check a finished run again from its recorded files and rewrite DIR/report.json and report.html')
    .option('--dir <dir>', 'the run directory')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (o: Opts) => setCode(await (await loadChaos()).chaosCheckCommand(io, o as { dir?: string; json?: boolean })));
  chaos
    .command('scenarios')
    .description('list the named scenarios and the faults')
    .option('--json', 'machine-readable output')
    .action(async (o: Opts) => setCode(await (await loadChaos()).chaosScenariosCommand(io, o as { json?: boolean })));
  chaos
    .command('cleanup')
    .description('remove what a chaos run in DIR made (processes, mounts, namespaces), from its state file; idempotent')
    .option('--dir <dir>', 'run directory')
    .option('--json', 'machine-readable output')
    .action(async (o: Opts) => setCode(await (await loadChaos()).chaosCleanupCommand(io, o as { dir?: string; json?: boolean })));
  chaos
    .command('worker <role>', { hidden: true })
    .description('internal: a chaos helper process (observer, workload, prober)')
    .option('--config <file>', 'DIR/worker.json')
    .option('--member <name>', 'prober: the member on this host')
    .action(async (role: string, o: Opts) => setCode(await (await loadChaos()).chaosWorkerCommand(io, role, o as { config?: string; member?: string })));
}
