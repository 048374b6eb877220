/** An expected failure: what went wrong, where, and how to fix it. The CLI prints it without a stack. */
export class LemError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode: 1 | 2 | 130 = 2,
    readonly notes: readonly string[] = [],
  ) {
    super(message);
    this.name = "LemError";
  }
}

/** A user mistake in the lemfile, YAML or CLI (exit 2). */
export const inputError = (message: string, fix?: string, notes: readonly string[] = []) =>
  new LemError(message, fix, 2, notes);
