/**
 * `POST /berth/system/check[?repair=1]`: berth's own endpoint (no docker equivalent) behind
 * `berth system check`. Each part checks what it owns: the images part its store, the containers
 * part container directories and mounts, the build part its temporary directory. With repair, the
 * check runs again afterwards and `Remaining` is what that second pass still finds.
 */
import { join } from 'node:path';
import { checkBuildDir } from '../build/index.js';
import { unmount } from '../host/index.js';
import type { CheckProblem } from '../images/index.js';
import type { Engine } from './engine.js';
import { boolParam, sendJson, type Router } from './router.js';

interface Problem { Kind: string; Subject: string; Message: string; Repaired?: string }

const wire = (p: CheckProblem): Problem => ({ Kind: p.kind, Subject: p.subject, Message: p.message, ...(p.repaired ? { Repaired: p.repaired } : {}) });

async function checkAll(engine: Engine, repair: boolean): Promise<{ problems: Problem[]; counts: Record<string, number> }> {
  const images = await engine.images.check({ repair, inUse: (id) => engine.containers.usingImage(id) });
  const containers = await engine.containers.check({ repair });
  const build = await checkBuildDir(join(engine.dataRoot, 'build'), { repair, unmount });
  return {
    problems: [...images.problems, ...containers.problems, ...build].map(wire),
    counts: { ...images.counts, ...containers.counts },
  };
}

/** One check at a time: two repairs side by side would race on the same orphans. */
let running: Promise<unknown> = Promise.resolve();

export function checkRoutes(r: Router, engine: Engine): void {
  r.on('POST', '/berth/system/check', async ({ res, query }) => {
    const repair = boolParam(query, 'repair');
    const job = running.then(async () => {
      const first = await checkAll(engine, repair);
      const remaining = repair && first.problems.length ? (await checkAll(engine, false)).problems : first.problems;
      return { Checked: first.counts, Problems: first.problems, Remaining: remaining };
    });
    running = job.catch(() => undefined);
    sendJson(res, 200, await job);
  });
}
