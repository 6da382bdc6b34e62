/**
 * Image events as dockerd logs them (daemon/images LogImageEvent): the actor is the image ID (or, for
 * pull and push, the reference), `name` the reference or the ID, then the image's labels.
 */
import { familiarString, type DeleteResponseItem, type Image } from '../images/index.js';
import type { Engine } from './engine.js';

async function labelsOf(engine: Engine, ref: string): Promise<Record<string, string>> {
  try { return (await engine.images.resolve(ref)).config.config?.Labels ?? {}; } catch { return {}; }
}

export async function imageEvent(engine: Engine, action: string, id: string, name: string = id, labels?: Record<string, string>): Promise<void> {
  engine.events.log('image', action, id, { name, ...(labels ?? await labelsOf(engine, id)) });
}

/** `familiarString` of a reference with its default tag; the reference as given if it does not parse. */
export function familiar(ref: string): string {
  try { return familiarString(ref); } catch { return ref; }
}

/** `untag` and `delete` events for what `rmi` or `image prune` answered; untags name the image they left. */
export function deleteEvents(engine: Engine, items: DeleteResponseItem[], img?: Image): void {
  let pending = 0;
  for (const item of items) {
    if (item.Untagged) { pending++; continue; }
    if (!item.Deleted) continue;
    for (; pending > 0; pending--) engine.events.log('image', 'untag', item.Deleted, { name: item.Deleted, ...(img?.id === item.Deleted ? img.config.config?.Labels ?? {} : {}) });
    engine.events.log('image', 'delete', item.Deleted, { name: item.Deleted });
  }
  if (img) for (; pending > 0; pending--) engine.events.log('image', 'untag', img.id, { name: img.id, ...(img.config.config?.Labels ?? {}) });
}
