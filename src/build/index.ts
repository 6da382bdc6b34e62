/** The build part: a Dockerfile and its context in, an image out, step by step with a cache. */
import type { Readable } from 'node:stream';
import type { ContainerService } from '../containers/index.js';
import type { Image, ImageService } from '../images/index.js';
import { Builder, type BuildOptions } from './builder.js';
import { trackBuild, unpackContext } from './context.js';

export { checkBuildDir, type BuildCheckProblem } from './context.js';

export { DockerfileError } from './types.js';
export { parseDockerignore, walkContext } from './dockerignore.js';

export interface BuildRequest extends Omit<BuildOptions, 'contextDir'> {
  context: Readable;
}

/** Builds, then tags: a failed build tags nothing. */
export async function build(images: ImageService, containers: ContainerService, req: BuildRequest): Promise<Image> {
  return trackBuild(() => buildTracked(images, containers, req));
}

async function buildTracked(images: ImageService, containers: ContainerService, req: BuildRequest): Promise<Image> {
  const ctx = await unpackContext(req.context, req.tmpRoot);
  try {
    const img = await new Builder(images, containers, { ...req, contextDir: ctx.dir }).build();
    for (const t of req.tags) await images.tag(img.id, t);
    return img;
  } finally {
    await ctx.dispose();
  }
}
