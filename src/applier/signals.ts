/**
 * SIGINT/SIGTERM for a running apply, the way Terraform does it: the first signal aborts the
 * returned AbortSignal (apply then starts nothing new, lets in-flight actions finish, persists
 * state and releases the lock); a second signal exits at once. The applier never prints: the
 * caller decides how to show the messages.
 */
import { INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE } from "./events.js";

export interface SignalHandlers {
  /** Aborted by the first SIGINT/SIGTERM; pass it to apply() as `signal`. */
  signal: AbortSignal;
  /** Removes the handlers (call when the apply is over). */
  dispose(): void;
}

export function installSignalHandlers(options: {
  /** Called with the message to show; count is 1 for the first signal, 2 for the second. */
  onInterrupt?: (count: 1 | 2, message: string) => void;
  /** How to exit on the second signal (default process.exit). */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
} = {}): SignalHandlers {
  const controller = new AbortController();
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      options.onInterrupt?.(1, INTERRUPT_MESSAGE);
      controller.abort(new Error(`received ${sig}`));
      return;
    }
    options.onInterrupt?.(2, SECOND_INTERRUPT_MESSAGE);
    (options.exit ?? ((code: number) => process.exit(code)))(sig === "SIGTERM" ? 143 : 130);
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}
