/**
 * Image references as docker normalizes them: `busybox` is
 * `docker.io/library/busybox:latest`, a first component with a dot, a colon
 * or `localhost` is a registry host, and `@sha256:…` pins a digest.
 */
import { InvalidParameterError } from '../errors/index.js';

export const DEFAULT_DOMAIN = 'docker.io';

export interface Reference {
  domain: string;
  path: string;          // e.g. library/busybox
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(input: string): Reference {
  if (!input || input !== input.trim()) throw new InvalidParameterError('invalid reference format');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidParameterError(`invalid reference format: ${input}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidParameterError(`invalid reference format: ${input}`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  // Like docker, an uppercase first component is taken for a registry host (namespaces are lowercase).
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost' || parts[0] !== parts[0]!.toLowerCase())) {
    domain = parts.shift()!;
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) {
      // docker names the normalized remote name: `Busybox` → `library/Busybox`.
      if (p.toLowerCase() !== p) throw new InvalidParameterError(`invalid reference format: repository name (${parts.join('/')}) must be lowercase`);
      throw new InvalidParameterError(`invalid reference format: ${input}`);
    }
  }
  if (!tag && !digest) tag = 'latest';
  return { domain, path: parts.join('/'), tag, digest };
}

/** Whether a reference names a repository alone (`busybox`), with neither tag nor digest: docker's reference.IsNameOnly. */
export function isNameOnly(input: string): boolean {
  parseReference(input);
  // A ':' after the last '/' starts a tag; one before it is a registry's port.
  return !input.includes('@') && !/:[^/]*$/.test(input);
}

/** The full repository name: `docker.io/library/busybox`. */
export function repository(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string stored as a tag: `docker.io/library/busybox:latest`. */
export function canonical(ref: Reference): string {
  return `${repository(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The short form docker prints: `busybox:latest`, `localhost:5000/app:1`. */
export function familiarRepository(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repository(ref);
  return ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
}

export function familiar(ref: Reference): string {
  return `${familiarRepository(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function familiarString(input: string): string {
  return familiar(parseReference(input));
}
