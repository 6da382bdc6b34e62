/**
 * Repository names, tags and digests are checked before they go into a URL,
 * so that a name can never reach another path or query of the registry.
 */
import { InvalidParameterError } from '../errors/index.js';
import { isDockerHub } from './hosts.js';
import { isDigest } from './digest.js';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPO = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;

export function checkRepo(repo: string): string {
  if (!REPO.test(repo) || repo.length > 255) throw new InvalidParameterError(`invalid repository name: ${repo}`);
  return repo;
}

export function checkReference(reference: string): string {
  if (!TAG.test(reference) && !isDigest(reference)) throw new InvalidParameterError(`invalid reference format: ${reference}`);
  return reference;
}

/** The repository as docker prints it: `busybox` on Docker Hub, `127.0.0.1:5000/x` elsewhere. */
export function displayName(registry: string, repo: string): string {
  return isDockerHub(registry) ? repo.replace(/^library\//, '') : `${registry}/${repo}`;
}

/** The reference as docker prints it: `busybox:latest` on Docker Hub, `127.0.0.1:5000/x:latest` elsewhere. */
export function displayReference(registry: string, repo: string, reference: string): string {
  return `${displayName(registry, repo)}${isDigest(reference) ? '@' : ':'}${reference}`;
}
