import { onPipeClosed } from "./closed-pipe.js";

// The one place lem listens for Ctrl-C and SIGTERM while it works (bin/lem.js's last-resort
// handler aside): a command gets AbortSignals, never a handler of its own.

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
type InterruptSignal = (typeof SIGNALS)[number];

/** What the first and second interrupt abort; dispose() stops listening. */
export interface Interrupts {
  /** The first Ctrl-C (SIGTERM, or a closed pipe where watched): start nothing new, stop what runs cleanly. */
  readonly stop: AbortSignal;
  /** The second: kill what runs. */
  readonly kill: AbortSignal;
  dispose(): void;
}

export interface InterruptOptions {
  /** Told of each interrupt as it comes: hard on the second and later. */
  onInterrupt?: (hard: boolean) => void;
  /** A reader of stdout or stderr going away counts as an interrupt (a build keeps what it measured). */
  closedPipe?: boolean;
  /** After the second interrupt, end lem with 130 if it has not ended in this many ms (a teardown that hangs). */
  exitAfterKillMs?: number;
  /** The signals listened for (default SIGINT and SIGTERM). */
  signals?: readonly InterruptSignal[];
}

/** Listens for interrupts until dispose(): the first aborts `stop`, the second `kill`. */
export function listenForInterrupts(options: InterruptOptions = {}): Interrupts {
  const stop = new AbortController();
  const kill = new AbortController();
  let count = 0;
  const onSignal = () => {
    count += 1;
    const hard = count > 1;
    options.onInterrupt?.(hard);
    if (!hard) { stop.abort(); return; }
    kill.abort();
    if (options.exitAfterKillMs !== undefined) setTimeout(() => process.exit(130), options.exitAfterKillMs).unref();
  };
  const signals = options.signals ?? SIGNALS;
  for (const signal of signals) process.on(signal, onSignal);
  const unwatchPipe = options.closedPipe ? onPipeClosed(onSignal) : undefined;
  return {
    stop: stop.signal,
    kill: kill.signal,
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
      unwatchPipe?.();
    },
  };
}

/** Runs `work` with a signal that Ctrl-C (or SIGTERM) aborts; nothing listens once it has settled. */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>, signals?: readonly InterruptSignal[]): Promise<T> {
  const interrupts = listenForInterrupts({ signals });
  try {
    return await work(interrupts.stop);
  } finally {
    interrupts.dispose();
  }
}
