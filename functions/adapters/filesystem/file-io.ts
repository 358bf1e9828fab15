/**
 * Streaming file I/O for the filesystem backend: bodies go to disk and files are copied through one reused
 * buffer each, so memory stays bounded whatever the object's size.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

import type { Body } from '../../core/backend.js';
import { errors } from '../../core/errors.js';

const IO_BUFFER_SIZE = 1024 * 1024;

/**
 * Appends to a file from a starting position, coalescing small chunks into large writes (bodies often arrive
 * in 16-64 KiB pieces). Two buffers take turns: one fills while the other is written, so the producer's work
 * (reading the socket, hashing, encrypting) overlaps the file system's instead of waiting on each write. At
 * most one write is in flight; a failed write surfaces at the next {@link write} or {@link flush}.
 */
export class BufferedWriter {
  private filling: Buffer = Buffer.allocUnsafe(IO_BUFFER_SIZE);
  /** The other buffer, allocated at the first write-out (most objects fit one), free once `inFlight` settles. */
  private spare: Buffer | undefined;
  private inFlight: Promise<void> | undefined;
  private used = 0;
  private total = 0;

  constructor(
    private readonly handle: FileHandle,
    private position: number,
  ) {}

  /** Bytes accepted so far, flushed or not. */
  get written(): number {
    return this.total;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.total += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, this.filling.length - this.used);
      this.filling.set(chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === this.filling.length) await this.writeOut();
    }
  }

  /** Writes everything accepted so far and waits until it is written. */
  async flush(): Promise<void> {
    await this.writeOut();
    await this.settle();
  }

  /**
   * Waits for the write in flight, if any, and throws its error. The handle must not be closed while one
   * is in flight: a write to a closed descriptor could land in whatever file reuses the number.
   */
  async settle(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    await inFlight;
  }

  /** Starts writing the filled buffer, once the previous write is done, and turns to the other buffer. */
  private async writeOut(): Promise<void> {
    await this.settle();
    if (this.used === 0) return;
    const full = this.filling;
    const write = writeFully(this.handle, full.subarray(0, this.used), this.position);
    // Awaited by the next writeOut or settle; until then a failure must not count as unhandled.
    write.catch(() => undefined);
    this.inFlight = write;
    this.position += this.used;
    this.used = 0;
    this.filling = this.spare ?? Buffer.allocUnsafe(IO_BUFFER_SIZE);
    this.spare = full;
  }
}

/**
 * Copies exactly `size` bytes of a body into `out` and returns the ETag to store: their MD5 (hex), or with
 * `opaque` (the caller has no use for the MD5 of these bytes) 16 random bytes in hex, which cost no pass
 * over the data.
 *
 * @throws S3Error IncompleteBody when the body holds more or fewer bytes than `size`; whatever the body throws.
 */
export async function copyBody(
  body: Body,
  size: number,
  out: BufferedWriter,
  opaque = false,
): Promise<string> {
  if (!Number.isSafeInteger(size) || size < 0) throw errors.incompleteBody();
  const md5 = opaque ? undefined : createHash('md5');
  let received = 0;
  for await (const chunk of body) {
    received += chunk.byteLength;
    // Checked before writing, so an oversized body never grows the file past what was announced.
    if (received > size) throw errors.incompleteBody();
    md5?.update(chunk);
    await out.write(chunk);
  }
  if (received !== size) throw errors.incompleteBody();
  return md5 ? md5.digest('hex') : randomBytes(16).toString('hex');
}

/** Copies `length` bytes of `from` starting at `offset` into `out`, feeding `md5` on the way when given. */
export async function copyRange(
  from: FileHandle,
  offset: number,
  length: number,
  out: BufferedWriter,
  md5?: Hash,
): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(IO_BUFFER_SIZE, Math.max(length, 1)));
  for (let done = 0; done < length;) {
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
    if (bytesRead === 0) throw new Error('stored file is shorter than its record says');
    const chunk = buffer.subarray(0, bytesRead);
    md5?.update(chunk);
    await out.write(chunk);
    done += bytesRead;
  }
}

/** Exactly `length` bytes at `position`, or undefined if the file ends first. */
export async function readExactly(
  handle: FileHandle,
  length: number,
  position: number,
): Promise<Buffer | undefined> {
  const buffer = Buffer.alloc(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) return undefined;
    done += bytesRead;
  }
  return buffer;
}

/** The body of a zero-byte object or range, without opening a stream for it. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}

async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength;) {
    const { bytesWritten } = await handle.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}
