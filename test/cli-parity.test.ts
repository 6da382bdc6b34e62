/**
 * `alias docker=berth`: one shell script, run once with the docker CLI and once with berth against the
 * same daemon, must print the same thing and exit the same way, line for line (IDs, times and ports
 * masked). The script is what shell scripts written for docker do: ps -q and --format, images
 * --format, inspect -f, run's exit codes, rm of an unknown container, logs --tail, network ls
 * --format, volume ls -q, and the errors on stderr.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH, DOCKER, exec, hasDocker, startDaemon, teardown, type TestDaemon } from './harness.js';

// $D is the CLI under test. Each step prints its exit code, so a difference names the step.
const SCRIPT = String.raw`
step() { echo "== $*"; }
step run -d; $D run -d --name par1 -l app=par busybox sh -c 'for i in 1 2 3 4 5; do echo line$i; done; exec sleep 300'; echo "rc=$?"
until $D logs par1 2>/dev/null | grep -q line5; do :; done
step ps -q; $D ps -q; echo "rc=$?"
step ps -q count; $D ps -aq | wc -l
step ps --format; $D ps --format '{{.Names}} {{.Image}} {{.State}} {{.Command}} {{.Label "app"}}'
step ps --format table; $D ps -a --format 'table {{.Names}}\t{{.Image}}\t{{.Labels}}'
step ps --format json; $D ps --format '{{json .Names}} {{json .Labels}}'
step ps --filter; $D ps --filter label=app=par --format '{{.Names}}'; $D ps --filter name=nomatch -q; echo "rc=$?"
step images --format; $D images --format '{{.Repository}}:{{.Tag}}'
step images table; $D images --format 'table {{.Repository}}\t{{.Tag}}' busybox
step images -q; $D images -q | wc -l
step run 0; $D run --rm busybox true; echo "rc=$?"
step run 3; $D run --rm busybox sh -c 'echo out; echo err >&2; exit 3'; echo "rc=$?"
step run 126; $D run --rm busybox /etc; echo "rc=$?"
step run 127; $D run --rm busybox nope; echo "rc=$?"
step run 125 image; $D run --rm nope/nope:1; echo "rc=$?"
step run 125 flag; $D run --rm --nope busybox true 2>/dev/null; echo "rc=$?"
step run -a; $D run --rm -a stdout busybox sh -c 'echo to-out; echo to-err >&2'; $D run --rm -a STDERR busybox sh -c 'echo not-shown; echo shown >&2; exit 4'; echo "rc=$?"
step run stdin; echo shout | $D run --rm -i busybox tr a-z A-Z; echo "rc=$?"
step create start wait; $D create --name par2 -e A=b busybox sh -c 'exit 7'; $D start par2; $D wait par2; echo "rc=$?"
step inspect ExitCode; $D inspect -f '{{.State.ExitCode}}' par2; echo "rc=$?"
step ps -l; $D ps -l --format '{{.Names}} {{.State}}'; echo "rc=$?"
step ps -n; $D ps -n 2 --format '{{.Names}}'
step ps -s; $D exec par1 sh -c 'head -c 12345 /dev/zero > /f'; $D ps -a -s --format '{{.Names}} {{.Size}}'; $D ps -s --format 'table {{.Names}}\t{{.Size}}'; $D inspect --size -f '{{.SizeRw}}' par1
step inspect fields; $D inspect -f '{{.State.Status}} {{.Name}} {{json .Config.Cmd}} {{.Config.Image}}' par2
step healthcheck json; $D create --name parhc --health-cmd true --health-start-interval 1s busybox true >/dev/null; $D inspect -f '{{json .Config.Healthcheck}}' parhc; $D rm parhc
step rename same; $D rename par2 par2; echo "rc=$?"
step port none; $D port par2 80; echo "rc=$?"
step inspect range; $D inspect --format '{{range .Config.Env}}{{println .}}{{end}}' par2
step inspect missing; $D inspect -f '{{.Id}}' nope; echo "rc=$?"
step inspect missing key; $D inspect -f '{{.Name}} {{.Config.Nope}}' par2 2>&1; echo "rc=$?"; $D inspect -f '{{.State.Health.Status}}' par2 2>&1; echo "rc=$?"
step inspect missing map key; $D inspect -f '{{.Config.Labels.nope}} {{.NetworkSettings.Networks.nope}}' par2; echo "rc=$?"
step inspect nil; $D inspect -f '{{.HostConfig.Links.X}}' par2 2>&1; echo "rc=$?"
step inspect omitted; $D inspect -f '{{.State.Health}} {{.SizeRw}} [{{.Config.StopSignal}}] {{if .State.Health}}h{{else}}n{{end}} {{json .Config.Healthcheck}}' par2; echo "rc=$?"; $D image inspect -f '[{{.Variant}}]' busybox; $D image inspect -f '{{.Config.Labels.x}}' busybox; echo "rc=$?"
step inspect json missing; $D inspect nope; echo "rc=$?"
step inspect --format json; $D inspect --format json nope par2 | cut -c1-7
step network inspect missing; $D network inspect -f '{{.Name}}' nope; echo "rc=$?"
step images json; $D images --format json busybox | sed 's/"Created[A-Za-z]*":"[^"]*",//g'
step rm; $D rm par2; echo "rc=$?"
step rm unknown; $D rm nope; echo "rc=$?"
step rm some unknown; $D rm nope par2; echo "rc=$?"
step rm -f unknown; $D rm -f nope; echo "rc=$?"; $D rm nope -f=true nope2; echo "rc=$?"
step logs --tail; $D logs --tail 2 par1; echo "rc=$?"
step cp errors; $D cp par1:/etc/hostname /nonexistent-berth-par/; echo "rc=$?"; $D cp par1:/etc/hostname /nonexistent-berth-par/x; echo "rc=$?"; $D cp par1:/etc/hostname /dev/null/; echo "rc=$?"
step logs unknown; $D logs --tail 2 nope; echo "rc=$?"
step network; $D network create parnet; echo "rc=$?"
step network ls --format; $D network ls --format '{{.Name}} {{.Driver}} {{.Scope}}' --filter name=parnet
step network ls names; $D network ls --format '{{.Name}}'
step network inspect; $D network inspect -f '{{.Name}} {{.Driver}} {{.Internal}}' parnet
step volume; $D volume create parvol; echo "rc=$?"
step volume ls -q; $D volume ls -q
step volume ls --format; $D volume ls --format '{{.Name}} {{.Driver}}'
step volume inspect; $D volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}}' parvol
step volume inspect missing; $D volume inspect -f '{{.Nope}} {{.Options.x}}' parvol 2>&1; echo "rc=$?"; $D network inspect -f '{{.Options.nope}}' parnet; $D network inspect -f '{{.Nope}}' parnet 2>&1; echo "rc=$?"
step volume inspect json; $D volume inspect parvol | sed 's/"CreatedAt": "[^"]*"/"CreatedAt": T/'
step volume rm; $D volume rm parvol; echo "rc=$?"
step network rm; $D network rm parnet; echo "rc=$?"
step exec; $D exec par1 sh -c 'echo in; exit 4'; echo "rc=$?"
step stop; $D stop -t 1 par1; echo "rc=$?"
step stop unknown; $D stop nope; echo "rc=$?"
step rm; $D rm par1; echo "rc=$?"
step ps -aq; $D ps -aq; echo "rc=$?"
step rmi unknown; $D rmi nope:1; echo "rc=$?"
step version; $D version --format '{{.Server.APIVersion}}'; echo "rc=$?"
step version client; $D version --format '{{.Client.APIVersion}}'
step image ID; $D inspect -f '{{.ID}}' busybox
step history raw; $D history --human=false busybox; $D image history --human=false --format '{{.Size}} {{.CreatedSince}}' busybox; $D history -H=false -q busybox | wc -l
step valued booleans; echo in | $D run --rm=true -i=1 -d=false --sig-proxy=false busybox sh -c 'cat; echo --rm=false -d=false'; echo "rc=$?"
step valued boolean off; $D run --rm=false --name parkeep busybox true; $D ps -a -q=false --filter name=parkeep --format '{{.Names}}'; $D rm parkeep
step valued boolean bad; $D run --rm=maybe busybox true; echo "rc=$?"; $D run -d=2 busybox true; echo "rc=$?"
step newer api flags; $D history --platform linux/amd64 busybox; echo "rc=$?"; $D network connect --gw-priority 1 bridge nope; echo "rc=$?"
`;

/** What differs between two runs by nature: IDs, the host's times. */
function mask(s: string): string {
  return s
    .replace(/\b[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<short>')
    .replace(/(Up|Exited \(\d+\)) [^\n\t]*?(ago|seconds|second|minutes|minute)\b/g, '$1 <time>')
    // Each names itself in its errors ("docker: …", "Run 'docker run --help'").
    .replace(/^(docker|berth): /gm, '<cli>: ').replace(/Run '(docker|berth) /g, "Run '<cli> ").replace(/^Usage: {2}(docker|berth) /gm, 'Usage:  <cli> ');
}

describe('berth CLI and docker CLI: one script, the same output', { skip: hasDocker ? false : 'no /usr/local/bin/docker here' }, () => {
  let d: TestDaemon;
  let dir: string;
  before(async () => {
    d = await startDaemon({ busybox: true });
    dir = mkdtempSync('/tmp/bt-par-');
    writeFileSync(join(dir, 'script.sh'), SCRIPT);
  });
  after(async () => {
    await teardown(d, [], { expectNone: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (cli: string) => {
    const r = await exec('sh', [join(dir, 'script.sh')], { env: { ...process.env, D: cli, DOCKER_HOST: d.host, BERTH_HOST: d.host }, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    return r;
  };

  test('stdout, stderr and exit codes match the docker CLI step by step', async () => {
    const docker = await run(DOCKER);
    const berth = await run(BERTH);
    // Guard against a script that silently runs nothing: the docker side shows the behaviour being compared.
    assert.match(docker.stdout, /== run 3\nout\nrc=3\n/);
    assert.match(docker.stdout, /== run 126\nrc=126\n/);
    assert.match(docker.stdout, /== run 127\nrc=127\n/);
    assert.match(docker.stdout, /== run 125 image\nrc=125\n/);
    assert.match(docker.stdout, /== rm unknown\nrc=1\n/);
    assert.match(docker.stdout, /== rm -f unknown\nrc=0\nrc=0\n/, 'rm -f says a missing container and goes on, as the docker CLI');
    assert.match(docker.stderr, /^Error response from daemon: No such container: nope$/m);
    assert.match(docker.stdout, /== logs --tail\nline4\nline5\nrc=0\n/);
    // As with dockerd: a limit lists stopped containers too, and -s counts the writable layer and the image's.
    assert.match(docker.stdout, /== ps -l\npar2 exited\nrc=0\n== ps -n\npar2\npar1\n/);
    assert.match(docker.stdout, /\npar1 12\.3kB \(virtual 1\.\d+MB\)\n/);
    assert.match(docker.stdout, /\n12345\n== /, 'inspect --size: the bytes the container wrote');
    assert.match(docker.stdout, /== image ID\nsha256:[0-9a-f]{64}\n/);
    assert.match(docker.stdout, /== valued booleans\nin\n--rm=false -d=false\nrc=0\n== valued boolean off\nparkeep\nparkeep\n/, 'a command\'s own words are left alone');
    assert.match(docker.stderr, /^invalid argument "2" for "-d, --detach" flag: strconv\.ParseBool: parsing "2": invalid syntax$/m);
    assert.match(docker.stdout, /== run -a\nto-out\nrc=4\n/, '-a picks the streams');
    assert.doesNotMatch(docker.stderr, /to-err/);
    const split = (s: string) => mask(s).split('\n');
    // stdout step by step, so a failure names the first step that differs.
    const ds = split(docker.stdout); const bs = split(berth.stdout);
    for (let i = 0; i < Math.max(ds.length, bs.length); i++) {
      const step = [...ds.slice(0, i + 1)].reverse().find((l) => l.startsWith('== ')) ?? '';
      assert.equal(bs[i], ds[i], `stdout line ${i + 1}, in step "${step}":\ndocker:\n${mask(docker.stdout)}\nberth:\n${mask(berth.stdout)}`);
    }
    // stderr, with each CLI's own name masked.
    assert.deepEqual(split(berth.stderr), split(docker.stderr), `stderr:\ndocker:\n${docker.stderr}\nberth:\n${berth.stderr}`);
  });

  test('usage errors: the same words, usage line and exit code as the docker CLI', async () => {
    // Flag errors exit 125; a wrong number of arguments and an unknown command exit 1 (docker 28).
    const cases = [
      ['run', '--foo', 'busybox'], ['run', '-z', 'busybox'], ['run', '--name'], ['run', '-e'], ['run'],
      ['stop'], ['stop', '-t', 'x', 'c'], ['logs', 'a', 'b'], ['ps', 'foo'], ['rename', 'a'], ['exec', 'a'],
      ['frob'], ['network', 'frob'], ['version', 'x'], ['inspect'], ['tag', 'a'], ['pull'], ['network', 'rm'], ['top'],
      // -it with an input that is no terminal is refused before anything is created.
      ['run', '-it', '--rm', 'busybox', 'true'], ['exec', '-it', 'nope', 'sh'],
      // Values the CLI refuses itself, and the daemon's refusal of a volume spec.
      ['run', '--rm', '-v', ':/x', 'busybox', 'true'], ['run', '--rm', '-v', 'a::/x', 'busybox', 'true'],
      ['run', '--rm', '--env-file', '/nope', 'busybox', 'true'], ['run', '--rm', '-e', '=x', 'busybox', 'true'],
      ['run', '--rm', '-m', 'abc', 'busybox', 'true'], ['run', '--rm', '--cpus', 'abc', 'busybox', 'true'],
      ['run', '--rm', '--ulimit', 'nofile=abc', 'busybox', 'true'], ['run', '--rm', '--ulimit', 'bogus=1', 'busybox', 'true'],
      ['run', '--rm', '--restart', 'always', 'busybox', 'true'], ['update', '--memory', 'x', 'c'],
      ['run', '--rm', '--memory-swappiness', '200', 'busybox', 'true'], ['run', '--rm', '--sysctl', 'kernel.foo=1', 'busybox', 'true'],
      ['run', '--rm', '--pid', 'bogus', 'busybox', 'true'], ['run', '--rm', '--uts', 'host', '-h', 'x', 'busybox', 'true'],
      ['run', '--rm', '--oom-score-adj', '5000', 'busybox', 'true'], ['run', '--rm', '--pull', 'bogus', 'busybox', 'true'],
      ['run', '--rm', '-a', 'bogus', 'busybox', 'true'], ['run', '--rm', '-d', '-a', 'stdout', 'busybox', 'true'],
    ];
    const env = { ...process.env, DOCKER_HOST: d.host, BERTH_HOST: d.host };
    for (const args of cases) {
      const [docker, berth] = await Promise.all([exec(DOCKER, args, { env }), exec(BERTH, args, { env })]);
      assert.notEqual(docker.code, 0, args.join(' '));
      assert.equal(berth.code, docker.code, `${args.join(' ')}: ${berth.stderr}`);
      assert.equal(berth.stderr, docker.stderr.replace(/\bdocker\b/g, 'berth'), args.join(' '));
    }
    assert.equal((await d.berth(['ps', '-aq'])).stdout, '');
  });
});
