const EMPTY = new Uint8Array(0);

/**
 * Reads a byte stream that arrives split anyhow: exact-size blocks ({@link ExactReader.read}), runs of bytes
 * as they come ({@link ExactReader.readUpTo}), or a sub-stream of a given length. It pulls from the source
 * only when asked for more bytes than it holds, so a consumer that stops pulling stops the source
 * (backpressure), and it holds one source piece at a time.
 *
 * Returned bytes are views into the current piece, or (for a block that spans pieces) into a scratch
 * buffer that the next `read` reuses: use them before reading again.
 */
export class ExactReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private piece: Uint8Array = EMPTY;
  private scratch: Uint8Array = EMPTY;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Exactly `size` bytes, or fewer only when the source ended first. */
  async read(size: number): Promise<Uint8Array> {
    if (this.piece.byteLength >= size) return this.take(size);
    if (this.piece.byteLength === 0 && !(await this.pull())) return EMPTY;
    if (this.piece.byteLength >= size) return this.take(size);
    // The block spans pieces: gather it in the scratch buffer.
    if (this.scratch.byteLength < size) this.scratch = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      if (this.piece.byteLength === 0 && !(await this.pull())) break;
      const part = this.take(Math.min(size - filled, this.piece.byteLength));
      this.scratch.set(part, filled);
      filled += part.byteLength;
    }
    return this.scratch.subarray(0, filled);
  }

  /** The next bytes, at most `max` of them, without copying: empty only when the source has ended. */
  async readUpTo(max: number): Promise<Uint8Array> {
    if (this.piece.byteLength === 0 && !(await this.pull())) return EMPTY;
    return this.take(Math.min(max, this.piece.byteLength));
  }

  /**
   * The next `length` bytes as a stream of their own, in pieces as they arrive; it ends early if the source
   * does (its consumer sees the shortfall). Ending it early leaves the rest unread, not the source closed.
   */
  async *stream(length: number): AsyncGenerator<Uint8Array, void, undefined> {
    let remaining = length;
    while (remaining > 0) {
      if (this.piece.byteLength === 0 && !(await this.pull())) return;
      const part = this.take(Math.min(remaining, this.piece.byteLength));
      remaining -= part.byteLength;
      yield part;
    }
  }

  /** True once the source has ended with no bytes left; pulls (skipping empty pieces) to find out. */
  async atEnd(): Promise<boolean> {
    return this.piece.byteLength === 0 && !(await this.pull());
  }

  /** Ends the source early (its `return()`), e.g. when the consumer stopped or a check failed. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.piece = EMPTY;
    await this.iterator.return?.();
  }

  private take(size: number): Uint8Array {
    const block = this.piece.subarray(0, size);
    this.piece = this.piece.subarray(size);
    return block;
  }

  /** Loads the next non-empty piece; false when the source has ended. */
  private async pull(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done === true) {
        this.ended = true;
        return false;
      }
      if (next.value.byteLength > 0) {
        this.piece = next.value;
        return true;
      }
    }
    return false;
  }
}
