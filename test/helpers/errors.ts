import * as assert from "uvu/assert";
import { LemError } from "../../src/errors.js";

/** The input error (exit 2) `f` throws, with its message and notes as one text; fails when it throws none. */
export function inputErrorOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    assert.instance(error, LemError);
    assert.is((error as LemError).exitCode, 2);
    return [(error as LemError).message, ...(error as LemError).notes].join("\n");
  }
  return assert.unreachable("expected an input error") as never;
}
