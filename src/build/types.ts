/** The parsed Dockerfile, as the builder reads it. */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  cmd: string;
  /** `--from=x`, `--chown=1:1`, `--chmod=644`, `--platform=…`, `--link`: name → value ('' for bare flags). */
  flags: Record<string, string>;
  /** Every flag in order, for the ones that may repeat (`RUN --mount=… --mount=…`); `flags` keeps the last. */
  flagList?: [name: string, value: string][];
  /**
   * The arguments after the flags. For JSON (exec) form, the parsed array with `json: true`; otherwise
   * the raw text split as the instruction needs it: RUN/CMD/ENTRYPOINT/SHELL keep one string (shell form),
   * others are split on whitespace respecting quotes (COPY/ADD sources and dest, EXPOSE ports, …), and
   * ENV/LABEL/ARG keep the raw text (the builder splits key=value pairs after variable expansion).
   */
  args: string[];
  json: boolean;
  /** The original text after the keyword, continuations joined (for cache keys and history). */
  original: string;
  /** 1-based line of the keyword in the Dockerfile. */
  line: number;
  /** RUN heredocs: `RUN <<EOF` bodies, in order. */
  heredocs?: {
    name: string;
    /** The lines as written, each ending in "\n" (`<<-` tabs NOT yet stripped: see chompHeredoc()). */
    body: string;
    /** `<<-EOF`: strip leading tabs from each line. */
    chomp: boolean;
    /** False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion. */
    expand?: boolean;
    /** `2<<EOF`: the file descriptor; 0 when none was written. */
    fd?: number;
  }[];
}

export interface Stage {
  /** Lower-cased `AS name`, if any. */
  name?: string;
  index: number;
  /** The FROM instruction (its args[0] is the base, maybe with variables still in it). */
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG instructions before the first FROM (usable in FROM lines). */
  globalArgs: Instruction[];
  stages: Stage[];
  escape: string;
  /** The `# syntax=` parser directive, if any. */
  syntax?: string;
  /** Non-fatal findings, as docker prints them (empty continuation lines, …). */
  warnings?: { message: string; line: number }[];
}

/** Thrown for any Dockerfile problem; the message names the line, as docker's does. */
export class DockerfileError extends Error {
  constructor(message: string, readonly line?: number) { super(line ? `Dockerfile:${line}: ${message}` : message); }
}
