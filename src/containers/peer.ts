/** What `--network container:<ref>` needs to know of the other container (the network part asks through `NetworkService.peer`). */
import type { PeerContainer } from '../network/index.js';
import type { ContainerRecord } from './types.js';

export function peerOf(c: ContainerRecord | undefined): PeerContainer | undefined {
  if (!c) return undefined;
  return {
    id: c.Id, name: c.Name.replace(/^\//, ''), running: c.State.Running, restarting: !!c.State.Restarting, status: c.State.Status,
    pid: c.State.Pid, mode: c.HostConfig.NetworkMode || 'default', hostname: c.Config.Hostname, hostnamePath: c.HostnamePath, hostsPath: c.HostsPath, resolvConfPath: c.ResolvConfPath,
  };
}
