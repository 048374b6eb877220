import { createInterface } from "node:readline/promises";
import { err } from "./output.js";
import { inputError } from "../errors.js";

/** A yes/no question on the terminal; Enter gives the default. */
export async function confirm(question: string, defaultYes: boolean): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} ${defaultYes ? "[Y/n]" : "[y/N]"} `)).trim().toLowerCase();
    return answer === "" ? defaultYes : answer.startsWith("y");
  } finally {
    rl.close();
  }
}

const PERSISTENT_WARNING = `Persistent container mode: containers will remain running between experiments.
  - Faster execution (no container startup overhead)
  - Less isolation (GPU memory and process state may carry over between experiments)
  - Use --container-strategy ephemeral for better isolation`;

/** lem build's question before persistent containers (--yes skips it); no terminal to ask on is a refusal. */
export async function confirmPersistent(): Promise<void> {
  err(PERSISTENT_WARNING);
  if (!process.stdin.isTTY) {
    throw inputError("the persistent strategy needs confirmation, and there is no terminal to ask on", "pass --yes to confirm, or use --container-strategy ephemeral");
  }
  if (!(await confirm("Continue with persistent mode?", true))) {
    throw inputError("persistent mode declined", "use --container-strategy ephemeral");
  }
}
