/** A container's command from the create request and the image's config. */

/**
 * The command as dockerd merges it with the image's: a non-empty Entrypoint drops the image's Cmd (unless a Cmd
 * is given), a null one takes the image's, and `[""]` (the docker CLI's `--entrypoint ''`) then clears it.
 */
export function mergeCommand(userEntrypoint: string[] | null, userCmd: string[] | null, img: { Entrypoint?: string[] | null; Cmd?: string[] | null }): { entrypoint: string[] | null; cmd: string[] | null } {
  let entrypoint = userEntrypoint;
  let cmd = userCmd;
  if (!entrypoint?.length) {
    if (!cmd?.length) cmd = img.Cmd ?? null;
    if (entrypoint === null) entrypoint = img.Entrypoint ?? null;
  }
  if (entrypoint?.length === 1 && entrypoint[0] === '') entrypoint = null;
  return { entrypoint, cmd };
}
