import { createInterface } from "node:readline/promises";

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
