/**
 * The output side of an attach connection. Output that arrives before anyone listens (an exec that
 * prints and exits while its starter is still awaiting the PID) is held, with the end, and handed to
 * the first 'data' listener once the caller has also attached its 'end' listener, in the same tick.
 */
import { EventEmitter } from 'node:events';

export abstract class HeldOutput extends EventEmitter {
  private held: [1 | 2, Buffer][] | undefined = [];
  private ended = false;

  /** Passes a chunk on, or holds it while nobody listens. */
  protected deliver(stream: 1 | 2, chunk: Buffer): void {
    if (this.held) this.held.push([stream, chunk]); else this.emit('data', stream, chunk);
  }

  /** The output is over: 'end' now, or after what is held (`silent`: nobody is to hear of it). */
  protected endOutput(silent = false): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.held && !silent) this.emit('end');
  }

  /** Nobody will read: what is held goes. */
  protected dropHeld(): void {
    this.held = undefined;
  }

  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === 'data' && this.held) {
      const held = this.held;
      this.held = undefined;
      queueMicrotask(() => {
        for (const [s, chunk] of held) this.emit('data', s, chunk);
        if (this.ended) this.emit('end');
      });
    }
    return this;
  }
}
