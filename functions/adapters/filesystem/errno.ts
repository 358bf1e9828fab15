/** Whether `error` is a Node system error carrying one of `codes` (`ENOENT`, `EEXIST`, ...). */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}
