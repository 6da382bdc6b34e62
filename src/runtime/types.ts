/**
 * The runtime interface: what turns a bundle (an OCI config.json and its
 * root filesystem) into a running workload. `oci` (runc under conmon) is one
 * driver; the `vm` runtime is another behind the same interface.
 */
import type { EventEmitter } from 'node:events';

/** An OCI runtime spec: a bundle's config.json. */
export type Spec = Record<string, unknown>;

export interface CreateOptions {
  id: string;
  /**
   * The OCI runtime spec (config.json) to run. A promise while the caller is still making it (mounting the root,
   * making the network namespace): the runtime starts what does not need it meanwhile. When it rejects, create
   * rejects with its error and leaves nothing running.
   */
  spec: Spec | Promise<Spec>;
  /** Where the workload's output is logged (k8s-file format). */
  logPath: string;
  terminal: boolean;
  /** Keep a pipe to the workload's stdin that attach clients write to. */
  stdin: boolean;
  /** Close stdin when the first attached client disconnects (docker's StdinOnce). */
  stdinOnce: boolean;
  consoleSize?: [number, number];
}

/** One attached client's view of the workload's stdio. */
export interface AttachConnection extends EventEmitter {
  /** stream 1 = stdout, 2 = stderr; emitted as 'data' (stream, chunk). */
  on(event: 'data', listener: (stream: 1 | 2, chunk: Buffer) => void): this;
  /** The workload's output ended (it exited and everything was delivered). */
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  write(data: Buffer): void;
  /** Ends stdin (EOF for the workload) and keeps receiving output. */
  endInput(): void;
  close(): void;
}

export interface ExecOptions {
  /** The OCI `process` object to run in the container's namespaces and cgroup. */
  process: Record<string, unknown>;
  terminal: boolean;
  stdin: boolean;
  /** Hand back a connection to the process's stdio, made before the process starts. */
  attach: boolean;
  consoleSize?: [number, number];
}

export interface ExecHandle {
  pid: number;
  /** Present when `attach` was asked for. */
  connection?: AttachConnection;
  exited: Promise<number>;
  resize(height: number, width: number): Promise<void>;
}

export type RuntimeState = 'created' | 'running' | 'paused' | 'stopped';

export interface RuntimeUsage {
  /** CPU time spent, user and system, in ns. */
  cpuNs: number;
  memory: number;
  memoryLimit: number;
  /** Host processes the workload is. */
  pids: number;
  /** A process in the workload's network namespace, whose /proc/PID/net/dev counts its traffic. */
  netPid?: number;
}

export interface Runtime extends EventEmitter {
  readonly name: string;
  /** Sets the workload up without starting it; resolves with its PID. Rejects with the runtime's message on failure. */
  create(opts: CreateOptions): Promise<{ pid: number }>;
  attach(id: string): Promise<AttachConnection>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  resize(id: string, height: number, width: number): Promise<void>;
  /** The workload's state, or undefined when the runtime does not know it. */
  state(id: string): Promise<RuntimeState | undefined>;
  /** The exit code once it exited, else undefined. */
  exitCode(id: string): Promise<number | undefined>;
  /** Freezes / thaws every process of the workload (the cgroup freezer). Optional: not every runtime can. */
  pause?(id: string): Promise<void>;
  resume?(id: string): Promise<void>;
  /** Host memory the running workload holds right now, in bytes (its cgroup, or its VM's RSS). */
  memoryUsage?(id: string): Promise<number | undefined>;
  /**
   * Why the runtime cannot run a container with these HostConfig settings at all (a VM cannot share the host's
   * namespaces), checked at create; undefined when it can. Settings it merely ignores are not refused.
   */
  refuses?(hostConfig: Record<string, unknown>): string | undefined;
  /**
   * What `stats` shows of a workload berth cannot read from a cgroup of its own (a VM: its QEMU process). The
   * oci runtime has none: stats reads the container's cgroup.
   */
  usage?(id: string): Promise<RuntimeUsage | undefined>;
  /** The most host memory the workload held, read once it exited and before `delete`: a run too short to sample has it too. */
  peakMemoryUsage?(id: string): Promise<number | undefined>;
  /** Applies new resource limits (the OCI `linux.resources` shape) to the running workload. Optional. */
  update?(id: string, resources: Record<string, unknown>): Promise<void>;
  /** PIDs (host view) of the workload's processes, for `top`. */
  pids?(id: string): Promise<number[]>;
  /** Whether the runtime still holds anything for the workload (cheap: no external process). */
  holds(id: string): Promise<boolean>;
  /**
   * Runs another process in a running workload. Resolves once it started (with its PID); rejects with the
   * runtime's message when it could not (an ExecStartError carrying docker's exit code).
   */
  exec(id: string, execId: string, opts: ExecOptions): Promise<ExecHandle>;
  /** Releases everything the runtime holds for the workload. Safe to call twice. */
  delete(id: string): Promise<void>;
  /** What `info` shows about the runtime itself (the vm driver: accelerator, default kernel, vCPUs, memory). */
  info?(): Promise<Record<string, unknown>>;
  /** What inspect shows about how the runtime runs the workload (the vm driver: kernel, accelerator, vCPUs, memory). */
  describe?(id: string): Promise<Record<string, unknown> | undefined>;
  /** Emits 'exit' (id, exitCode) whenever a workload exits. */
  on(event: 'exit', listener: (id: string, code: number) => void): this;
}
