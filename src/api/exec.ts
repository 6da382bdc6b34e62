/** `/containers/{id}/exec` and `/exec/{id}/…`. */
import type { ExecConfig } from '../containers/index.js';
import { InvalidParameterError } from '../errors/index.js';
import { pipeAttach, upgradeHeader } from './attach.js';
import type { Engine } from './engine.js';
import { readJson, sendJson, type Router } from './router.js';
import { EXEC_CONFIG, EXEC_START } from './validate.js';
import { frame } from './stdcopy.js';

export function execRoutes(r: Router, engine: Engine): void {
  const execs = engine.containers.execs;

  r.on('POST', '/containers/{id}/exec', async ({ req, res, params }) => {
    const body = await readJson<ExecConfig>(req, EXEC_CONFIG);
    sendJson(res, 201, execs.create(params.id!, body));
  });

  r.on('POST', '/exec/{id}/start', async (ctx) => {
    const body = await readJson<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>(ctx.req, EXEC_START);
    const tty = body.Tty ?? execs.tty(ctx.params.id!);
    if (body.Detach) {
      await execs.start(ctx.params.id!, { detach: true, tty });
      ctx.res.writeHead(200).end();
      return;
    }
    const sock = ctx.upgrade?.socket ?? ctx.req.socket;
    // An unknown session, one that already ran or a stopped container is a plain HTTP error, before the upgrade.
    execs.checkStart(ctx.params.id!);
    // The header goes before the process starts, as dockerd's: sent with the process's first output in one
    // write, a client that reads the response through a buffer (docker-py, so docker-compose v1) loses that output.
    // The client may answer it with stdin at once: held in the socket until pipeAttach listens (and resumes it).
    sock.pause();
    sock.write(upgradeHeader(tty, !!ctx.upgrade));
    let connection;
    try {
      connection = await execs.start(ctx.params.id!, { detach: false, tty, consoleSize: body.ConsoleSize ?? undefined });
    } catch (e) {
      // dockerd reports a process that could not start inside the stream, then ends it; inspect has the exit code.
      const text = Buffer.from(`${(e as Error).message}\r\n`);
      sock.resume(); // read to the client's end, so the connection closes
      sock.end(tty ? text : frame(1, text));
      return;
    }
    const cfg = execs.inspect(ctx.params.id!);
    pipeAttach(sock, ctx.upgrade?.head ?? Buffer.alloc(0), tty, Promise.resolve(connection!),
      { stdin: cfg.OpenStdin, stdout: cfg.OpenStdout, stderr: cfg.OpenStderr });
  });

  r.on('POST', '/exec/{id}/resize', async ({ res, params, query }) => {
    const h = Number(query.get('h')); const w = Number(query.get('w'));
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) throw new InvalidParameterError('invalid resize parameters');
    await execs.resize(params.id!, h, w);
    res.writeHead(200).end();
  });

  r.on('GET', '/exec/{id}/json', ({ res, params }) => {
    sendJson(res, 200, execs.inspect(params.id!));
  });
}
