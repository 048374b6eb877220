import { parseArgs, type ParseArgsConfig } from "node:util";
import { inputError } from "../errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs with lem's error style: an unknown flag is an input error (exit 2). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export function parse<O extends Options>(argv: string[], options: O, command: string): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw inputError(`lem ${command}: ${(error as Error).message}`, `run \`lem ${command} --help\` for the options`);
  }
}

/** A flag's whole number ≥ 1, written in plain digits ("1.5", "0x10", "1e3", " 2" are mistakes). */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw inputError(`${flag}: expected a whole number ≥ 1, got "${value}"`, `e.g. ${flag} 2`);
  }
  return n;
}

/** A flag's number ≥ 0 in plain decimal digits ("-5", "abc", "1e3", "" are mistakes). */
export function nonNegativeNumber(value: string | undefined, flag: string, example: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || !Number.isFinite(n)) {
    throw inputError(`${flag}: expected a number ≥ 0, got "${value}"`, `e.g. ${flag} ${example}`);
  }
  return n;
}
