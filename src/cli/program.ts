// The `ballast` command line (commander). runCli never exits the process: it returns the exit
// code, so tests can drive it. Exit codes: 0 ok, 1 failed, 2 bad usage (nothing changed).
// Command modules are loaded when their command runs (import type above, import() in the
// actions): a `ballast backup run` does not pay for fastify, the chaos harness and the rest.
import { Command, CommanderError } from 'commander';
import { InvalidInputError } from '../domain/errors.js';
import type { eventsCommand, operatorCommand, statusCommand } from './cluster-commands.js';
import { EXIT_OK, EXIT_USAGE, reportError, type Io } from './io.js';
import type { downCommand, upCommand } from './local-commands.js';
import { registerChaos } from './chaos-program.js';
import type { backupListCommand, backupRunCommand, restoreCommand } from './backup-commands.js';
import type { backupVerifyCommand } from './backup-verify-command.js';
import type { backupScheduleCommand } from './backup-schedule-command.js';
import type { undropCommand } from './undrop-command.js';

type Opts = Record<string, string | boolean | undefined>;
type Action = (io: Io, opts: Opts) => Promise<number>;

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'local deployment directory (from ballast up)')
    .option('--etcd <urls>', 'etcd endpoints, comma-separated (instead of --dir)')
    .option('--cluster <name>', 'cluster name (with --etcd; default main)');
}

export function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command('ballast');
  program
    .description('Ballast: highly available PostgreSQL on your own machines')
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s), outputError: () => undefined });
  const on = (cmd: Command, action: Action) =>
    cmd.action(async (opts: Opts) => {
      setCode(await action(io, opts));
    });

  on(
    program
      .command('up')
      .description('start a local cluster: etcd, N postgres members with agents, coordinators, a router (HAProxy + PgBouncer); loopback only')
      .option('--dir <dir>', 'absolute directory for data, logs, state and secrets')
      .option('--members <n>', 'number of postgres members, 1..9 (default 3)')
      .option('--cluster <name>', 'cluster name (default main)')
      .option('--detach', 'run the supervisor in the background and return once ready')
      .option('--max-lag-ms <ms>', 'read pool: replicas further behind than this leave the ro endpoint, or "none" (default 60000)')
      .option('--max-lag-bytes <bytes>', 'read pool: byte lag limit, or "none" (default none)')
      .option('--read-fallback <mode>', 'read pool with no replica in the limits: "primary" (default) or "refuse"')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./local-commands.js')).upCommand(i, o as Parameters<typeof upCommand>[1]),
  );
  on(
    program.command('down').description('stop the local cluster in DIR (idempotent)').option('--dir <dir>', 'deployment directory').option('--json', 'machine-readable output'),
    async (i, o) => (await import('./local-commands.js')).downCommand(i, o as Parameters<typeof downCommand>[1]),
  );
  on(
    targetOptions(program.command('status').description('roles, lag and the coordinator view')).option('--json', 'machine-readable output'),
    async (i, o) => (await import('./cluster-commands.js')).statusCommand(i, o as Parameters<typeof statusCommand>[1]),
  );
  on(
    targetOptions(program.command('switchover').description('planned, no-data-loss change of primary'))
      .option('--to <name>', 'target member (default: the best standby)')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./cluster-commands.js')).operatorCommand(i, 'switchover', o as Parameters<typeof operatorCommand>[2]),
  );
  on(
    targetOptions(program.command('failover').description('promote a standby now'))
      .option('--to <name>', 'member to promote (required)')
      .option('--accept-data-loss', 'allow promoting a member that may miss acknowledged commits')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./cluster-commands.js')).operatorCommand(i, 'failover', o as Parameters<typeof operatorCommand>[2]),
  );
  on(
    targetOptions(program.command('events').description('recent cluster events'))
      .option('--limit <n>', 'how many (default 50)')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./cluster-commands.js')).eventsCommand(i, o as Parameters<typeof eventsCommand>[1]),
  );
  on(
    program.command('agent').description('run the agent of one postgres member').option('--config <file>', 'agent config (JSON)'),
    async (i, o) => (await import('./process-commands.js')).agentCommand(i, o as { config?: string }),
  );
  on(
    program.command('coordinator').description('run one coordinator').option('--config <file>', 'coordinator config (JSON)'),
    async (i, o) => (await import('./process-commands.js')).coordinatorCommand(i, o as { config?: string }),
  );
  on(
    program.command('router').description('run one router: HAProxy + PgBouncer following the cluster').option('--config <file>', 'router config (JSON)'),
    async (i, o) => (await import('./process-commands.js')).routerCommand(i, o as { config?: string }),
  );
  on(
    program.command('supervise').description('internal: the process supervisor behind "ballast up --detach"').option('--dir <dir>', 'deployment directory'),
    async (i, o) => (await import('./local-commands.js')).superviseCommand(i, o as { dir?: string }),
  );
  const backup = program.command('backup').description('backups with pgBackRest (local deployments)');
  on(
    targetOptions(backup.command('run').description('take a backup now (from a standby when one is healthy); waits and prints the result'))
      .option('--type <type>', 'full, diff or incr (default incr; the first one is always full)')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./backup-commands.js')).backupRunCommand(i, o as Parameters<typeof backupRunCommand>[1]),
  );
  on(
    targetOptions(backup.command('list').description('backups, the restorable window and the WAL archive state')).option('--json', 'machine-readable output'),
    async (i, o) => (await import('./backup-commands.js')).backupListCommand(i, o as Parameters<typeof backupListCommand>[1]),
  );
  on(
    targetOptions(backup.command('verify').description('pgbackrest verify, then restore the newest backup into a scratch instance, recover it to the newest archived WAL and check it with pg_amcheck; recorded in backup list and the events'))
      .option('--json', 'machine-readable output (the verify record)'),
    async (i, o) => (await import('./backup-verify-command.js')).backupVerifyCommand(i, o as Parameters<typeof backupVerifyCommand>[1]),
  );
  on(
    targetOptions(backup.command('schedule').description('show the backup schedule (cron, UTC) and retention in force, with the next runs; with flags, change them in the cluster spec'))
      .option('--full <cron>', 'when to take full backups (default weekly: 0 1 * * 0)')
      .option('--diff <cron>', 'when to take differential backups (default daily: 0 1 * * 1-6)')
      .option('--incr <cron>', 'when to take incremental backups (default hourly: 30 * * * *)')
      .option('--retention-full <n>', 'full backups to keep, 1..100 (default 2)')
      .option('--retention-days <n|none>', 'keep full backups for n days instead of by count; none: by count')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./backup-schedule-command.js')).backupScheduleCommand(i, o as Parameters<typeof backupScheduleCommand>[1]),
  );
  on(
    program
      .command('restore')
      .description('restore a backup into a NEW cluster in a new directory, recovered to a point in time; the source is untouched')
      .option('--from <dir>', 'source deployment directory (its backup repository)')
      .option('--into <dir>', 'new, empty directory for the restored cluster')
      .option('--time <iso8601>', 'recover up to this moment (ISO 8601 with a zone, e.g. 2026-12-07T19:50:00Z)')
      .option('--lsn <lsn>', 'recover up to this WAL position (e.g. 0/3000148)')
      .option('--xid <xid>', 'recover up to and including this transaction')
      .option('--latest', 'recover everything in the archive')
      .option('--members <n>', 'members of the new cluster, 1..9 (default: as many as the source)')
      .option('--cluster <name>', 'name of the new cluster (default: the source\'s)')
      .option('--json', 'machine-readable output (the same object as up --json)'),
    async (i, o) => (await import('./backup-commands.js')).restoreCommand(i, o as Parameters<typeof restoreCommand>[1]),
  );
  on(
    targetOptions(program.command('undrop').description('give back a dropped or truncated table from the backups, into the live cluster, without stopping it'))
      .option('--table <schema.name>', 'the table (schema public when none is given)')
      .option('--db <name>', 'its database (default app)')
      .option('--before <iso8601>', 'take the table as it was just before this moment (e.g. for rows deleted by mistake)')
      .option('--before-xid <xid>', 'take the table as it was just before this transaction committed')
      .option('--as <name>', 'name to restore it under (default: its own when free, else NAME_restored_<time>)')
      .option('--json', 'machine-readable output'),
    async (i, o) => (await import('./undrop-command.js')).undropCommand(i, o as Parameters<typeof undropCommand>[1]),
  );
  registerChaos(program, io, setCode);
  return program;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return reportError(io, new InvalidInputError(`${e.message.replace(/^error: /, '')} (see ballast --help)`), json);
    }
    return reportError(io, e, json);
  }
}
