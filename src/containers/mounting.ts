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
  checkVolumeDriver(hc, imageVolumes);
  const volumesFrom = (Array.isArray(hc.VolumesFrom) ? hc.VolumesFrom as string[] : []).map((spec) => {
    const [ref = '', mode = ''] = spec.split(':');
    if (mode && mode !== 'ro' && mode !== 'rw') throw new InvalidParameterError(`invalid mode for volumes-from: ${mode}`);
    return { mounts: find(ref).Mounts as MountPoint[], readOnly: mode === 'ro' };
  });
  return volumes.prepare({ ...request(hc), volumes: imageVolumes, volumesFrom });
}

/** `--volume-driver`: only `local` is here; as dockerd, it matters only when the container gets a volume. */
function checkVolumeDriver(hc: HostConfig, imageVolumes: string[]): void {
  const driver = hc.VolumeDriver;
  if (!driver || driver === 'local') return;
  const binds = Array.isArray(hc.Binds) ? (hc.Binds as string[]) : [];
  const mounts = Array.isArray(hc.Mounts) ? (hc.Mounts as { Type?: string }[]) : [];
  const volumeBind = binds.some((b) => !b.startsWith('/') || !b.includes(':'));
  if (volumeBind || mounts.some((m) => m?.Type === 'volume') || imageVolumes.length) {
    throw new InvalidParameterError(`error looking up volume plugin ${String(driver)}: plugin "${String(driver)}" not found`);
  }
}

export async function startMounts(volumes: VolumeService | undefined, c: ContainerRecord, rootfs: string): Promise<OciMount[] | undefined> {
  if (!volumes || !c.Mounts.length) return undefined;
  return volumes.ociMounts(c.Id, c.Mounts as MountPoint[], request(c.HostConfig), (path) => resolveInRoot(rootfs, path));
}
