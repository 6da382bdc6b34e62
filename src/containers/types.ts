/**
 * The container record: the shape of `GET /containers/{id}/json`, kept in the
 * store as JSON, so inspect returns what dockerd would.
 */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present when the container has a health check. */
  Health?: HealthState;
}

/** docker's `State.Health`. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

/** docker's `Config.Healthcheck`: durations in nanoseconds, 0 for the default. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** `Config` of the create request and of inspect. */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
}

export interface RestartPolicy { Name: string; MaximumRetryCount: number }

export interface HostConfig {
  AutoRemove: boolean;
  Runtime: string;
  NetworkMode: string;
  RestartPolicy: RestartPolicy;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Binds: string[] | null;
  LogConfig: { Type: string; Config: Record<string, string> };
  ConsoleSize: [number, number];
  [key: string]: unknown;
}

export interface ContainerRecord {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;          // image ID
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;           // with the leading slash, as docker
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  HostConfig: HostConfig;
  Config: ContainerConfig;
  GraphDriver: { Name: string; Data: Record<string, string> };
  Mounts: unknown[];
  NetworkSettings: Record<string, unknown>;
  /** berth's extension for `--runtime vm`: kernel, accelerator, vCPUs, memory of the VM of the last start. */
  VM?: Record<string, unknown>;
  /** Kept as dockerd keeps them, out of inspect: `stop`/`kill` by a user (restart policies), and whether it ever started. */
  HasBeenManuallyStopped?: boolean;
  HasBeenStartedBefore?: boolean;
  /** `--mac-address`, by network name, as dockerd keeps its DesiredMacAddress: out of inspect, kept across starts. */
  DesiredMacs?: Record<string, string>;
}

/** The create request body, as the docker CLI sends it. */
export interface CreateRequest extends Partial<Omit<ContainerConfig, 'Image'>> {
  Image: string;
  HostConfig?: Partial<HostConfig>;
  NetworkingConfig?: unknown;
}
