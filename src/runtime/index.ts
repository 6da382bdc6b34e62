export * from './types.js';
export { OciRuntime, StartError, type OciRuntimeOptions } from './oci.js';
export { ExecStartError } from './oci-exec.js';
export { VmRuntime, type VmDetails, type VmRuntimeOptions } from './vm.js';
export { closeInheritedFds } from './close-fds.js';
