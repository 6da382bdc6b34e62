/**
 * A berth daemon for the testcontainers suites, and the package loaded against it. testcontainers reads its
 * environment when it first looks for a container runtime, so the variables are set before the import.
 * Ryuk (the resource reaper) is off: its image can't be pulled here, and the suites' teardown checks instead.
 */
import { startDaemon, type TestDaemon } from './harness.js';

export type TC = typeof import('testcontainers');

export async function testcontainersDaemon(env: Record<string, string> = {}): Promise<{ d: TestDaemon; tc: TC }> {
  const d = await startDaemon({ busybox: true });
  Object.assign(process.env, {
    DOCKER_HOST: d.host, TESTCONTAINERS_RYUK_DISABLED: 'true', TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1', ...env,
  });
  return { d, tc: await import('testcontainers') };
}
