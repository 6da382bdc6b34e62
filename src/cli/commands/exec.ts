/** `berth exec`: another process in a running container. */
import type { Command } from 'commander';
import { checkTty, pumpAttach } from '../attach.js';
import { clientOf, collect, ExitError } from '../context.js';
import { envList } from './create-flags.js';

interface ExecFlags { interactive?: boolean; tty?: boolean; detach?: boolean; detachKeys?: string; env?: string[]; envFile?: string[]; workdir?: string; user?: string; privileged?: boolean }

export function registerExec(program: Command): void {
  program.command('exec').description('Execute a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .argument('<container>').argument('<command...>')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <file>', 'Read in a file of environment variables', collect)
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('--privileged', 'Give extended privileges to the command')
    .option('--detach-keys <keys>', 'Override the key sequence for detaching a container (default ctrl-p,ctrl-q)')
    .passThroughOptions()
    .action(async (container: string, cmdArgs: string[], f: ExecFlags, cmd: Command) => {
      const client = clientOf(cmd);
      const tty = !!f.tty;
      if (tty && f.interactive && !f.detach && !process.stdin.isTTY) {
        // As the docker CLI: an unknown container is reported before the terminal is.
        await client.json('GET', `/containers/${container}/json`);
        checkTty(true, true);
      }
      const env = envList(f);
      const size: [number, number] | undefined = tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : undefined;
      const { Id } = await client.json<{ Id: string }>('POST', `/containers/${container}/exec`, {
        body: {
          AttachStdin: !!f.interactive && !f.detach, AttachStdout: !f.detach, AttachStderr: !f.detach, Tty: tty, Cmd: cmdArgs,
          Env: env, WorkingDir: f.workdir ?? '', User: f.user ?? '', Privileged: !!f.privileged, ConsoleSize: size ?? null,
        },
      });
      if (f.detach) {
        await client.call('POST', `/exec/${Id}/start`, { body: { Detach: true, Tty: tty } });
        return;
      }
      const sock = await client.hijack(`/exec/${Id}/start`, {}, { Detach: false, Tty: tty, ConsoleSize: size ?? null });
      await pumpAttach(client, Id, sock, { tty, stdin: !!f.interactive, resizePath: `/exec/${Id}/resize`, proxySignals: false, detachKeys: f.detachKeys });
      // The stream ends when the process's output does; its exit code may land a moment later.
      for (let i = 0; i < 100; i++) {
        const info = await client.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${Id}/json`);
        if (!info.Running && info.ExitCode !== null) throw new ExitError(info.ExitCode);
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new ExitError(126, 'the exec session did not report an exit code');
    });
}
