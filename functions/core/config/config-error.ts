/** A configuration problem: says where (`backends[1].encryption.mode`) and what is wrong. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`config error at ${path}: ${problem}`);
    this.name = 'ConfigError';
  }
}
