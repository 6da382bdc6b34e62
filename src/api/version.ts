/** Versions the daemon announces and the CLI asks for. */
export const BERTH_VERSION = '0.1.0';
export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';
