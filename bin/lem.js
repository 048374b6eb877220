#!/usr/bin/env node
// Runs the compiled CLI (npm's prepare builds dist/). Falls back to the TypeScript sources
// through tsx in a checkout where dist/ was not built yet.
import { existsSync } from "node:fs";

// Ctrl-C while no command handles it (start-up, loading the lemfile, planning, the last output)
// ends lem with the documented 130 rather than death by signal; a command's own handler wins.
const interrupted = (signal) => { if (process.listenerCount(signal) === 1) process.exit(130); };
process.on("SIGINT", interrupted);
process.on("SIGTERM", interrupted);

const compiled = new URL("../dist/cli/main.js", import.meta.url);
let main;
if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  await import("tsx/esm");
  ({ main } = await import(new URL("../src/cli/main.ts", import.meta.url).href));
}
// exitCode, not exit(): process.exit() does not wait for a pipe to drain, so a large JSON document
// written to a pipe would be cut.
process.exitCode = await main(process.argv.slice(2));
