/**
 * Where a container's lifecycle meets the volumes part: what its record asks to mount, the volumes
 * it takes at create and gives back at removal, and the OCI mounts of a start. The volumes part does the work.
 */
import { InvalidParameterError } from '../errors/index.js';
import type { ApiMount, MountPoint, MountRequest, OciMount, VolumeService } from '../volumes/index.js';
import { resolveInRoot } from '../common/rootpath.js';
import type { ContainerRecord, HostConfig } from './types.js';

/** `HostConfig.Tmpfs` (`--tmpfs`) is not here: the host-config part mounts those. */
function request(hc: HostConfig): Pick<MountRequest, 'binds' | 'mounts'> {
  return {
    binds: Array.isArray(hc.Binds) ? hc.Binds : [],
    mounts: Array.isArray(hc.Mounts) ? hc.Mounts as ApiMount[] : [],
  };
}

/**
 * The `Mounts` of a new container: its binds, mounts and tmpfs, `--volumes-from` (looked up with `find`),
 * and an anonymous volume for each VOLUME nothing else covers. Makes the volumes; takes nothing on failure.
 */
export async function prepareMounts(volumes: VolumeService | undefined, hc: HostConfig, imageVolumes: string[], find: (ref: string) => ContainerRecord): Promise<MountPoint[]> {
  if (!volumes) return [];
  const volumesFrom = (Array.isArray(hc.VolumesFrom) ? hc.VolumesFrom as string[] : []).map((spec) => {
    const [ref = '', mode = ''] = spec.split(':');
    if (mode && mode !== 'ro' && mode !== 'rw') throw new InvalidParameterError(`invalid mode for volumes-from: ${mode}`);
    return { mounts: find(ref).Mounts as MountPoint[], readOnly: mode === 'ro' };
  });
  return volumes.prepare({ ...request(hc), volumes: imageVolumes, volumesFrom });
}

export async function startMounts(volumes: VolumeService | undefined, c: ContainerRecord, rootfs: string): Promise<OciMount[] | undefined> {
  if (!volumes || !c.Mounts.length) return undefined;
  return volumes.ociMounts(c.Mounts as MountPoint[], request(c.HostConfig), (path) => resolveInRoot(rootfs, path));
}
