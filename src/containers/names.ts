/** Random container names in docker's `adjective_name` style, with berth's own word lists. */
import { randomInt } from 'node:crypto';

const LEFT = [
  'amber', 'brave', 'calm', 'clever', 'crisp', 'daring', 'eager', 'gentle', 'glad', 'hardy', 'jolly', 'keen',
  'lively', 'lucid', 'merry', 'nimble', 'noble', 'patient', 'plucky', 'quiet', 'rapid', 'serene', 'steady',
  'sturdy', 'swift', 'tidy', 'trusty', 'vivid', 'wise', 'zesty',
];
const RIGHT = [
  'anchor', 'barge', 'buoy', 'cutter', 'dinghy', 'dory', 'ferry', 'frigate', 'galleon', 'harbor', 'hull', 'jetty',
  'keel', 'ketch', 'lighthouse', 'mast', 'mooring', 'pier', 'quay', 'raft', 'rudder', 'schooner', 'skiff', 'sloop',
  'tender', 'tug', 'wharf', 'yawl', 'marina', 'lagoon',
];

export function randomName(): string {
  return `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
}

export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
