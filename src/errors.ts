/**
 * An error caused by what the user gave us (a file, a flag, a value), not by a bug.
 * The CLI prints `message` as one line and exits with code 2; anything else is a bug.
 */
export class InputError extends Error {
  constructor(
    /** The file or argument at fault, as the user named it. */
    readonly subject: string,
    /** What is wrong with it, in words a user can act on. */
    readonly problem: string,
  ) {
    super(`${subject}: ${problem}`);
    this.name = 'InputError';
  }
}
