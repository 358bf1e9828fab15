/**
 * Why a ciphertext, a wrapped key or a layout was refused. The codes are stable: the gateway maps them to
 * S3 errors, and tests assert on them.
 */
export type FormatErrorReason =
  /** The segment header is not "SGE" + a known version, or is not 24 bytes. */
  | 'bad-header'
  /** A version byte this code does not know (a newer writer, or a flipped bit). */
  | 'unsupported-version'
  /** The segment header names another part number than the one the object's layout puts there. */
  | 'part-number-mismatch'
  /** A chunk's tag did not verify: wrong key, edited bytes, moved or reordered chunk, wrong final flag. */
  | 'chunk-auth-failed'
  /** The ciphertext ended before the last chunk it should hold was complete. */
  | 'truncated'
  /** Bytes followed the last chunk that was asked for. */
  | 'trailing-bytes'
  /** A plaintext source yielded more or fewer bytes than the declared plaintext length. */
  | 'length-mismatch'
  /** A length, part number or chunk index read from the object's metadata or backend is impossible. */
  | 'invalid-layout'
  /** The object's list of parts (numbers and lengths) does not match its layout tag. */
  | 'layout-auth-failed'
  /** A plaintext byte range that does not lie inside the object. */
  | 'range-not-satisfiable'
  /** A wrapped data key of the wrong size. */
  | 'bad-wrapped-key'
  /** The wrapped data key did not open: another wrapping key, or another mode, key id, bucket or key. */
  | 'unwrap-failed';

/**
 * A refusal by the ciphertext codec. Its message is safe to log and names no key material; `reason` is
 * the code to branch on. Programming errors (a data key that is not 32 bytes, a part number out of range
 * on the write side) are `RangeError`s instead: they are bugs, not bad data.
 */
export class FormatError extends Error {
  constructor(
    readonly reason: FormatErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'FormatError';
  }
}
