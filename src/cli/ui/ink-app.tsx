/**
 * The apply screen on a TTY: a line per VM with the step in flight and its elapsed time, VM counts
 * with an ETA, failures in red, and the final "Apply complete!" line. What goes on which line is
 * layout.ts's job (sized to the terminal, never taller than it: see there); this only draws it.
 * Only ever imported lazily (ink costs ~700 ms to load).
 */
import { useEffect, useState } from "react";
import { Box, Text, useStdout } from "ink";
import Spinner from "ink-spinner";
import { layout, type Line, type Screen, type Segment } from "./layout.js";
import type { ProgressStore } from "./store.js";

/** Assumed when the stream does not say (not a TTY): ink's own default width, a classic 24 rows. */
const FALLBACK: Screen = { rows: 24, columns: 80 };

function Piece({ s }: { s: Segment }) {
  if (s.spinner) return <Text color={s.tone === "cyan" ? "cyan" : undefined}><Spinner type="dots" /></Text>;
  const color = s.tone === "green" || s.tone === "red" || s.tone === "yellow" || s.tone === "cyan" ? s.tone : undefined;
  return <Text color={color} dimColor={s.tone === "dim"} bold={s.bold}>{s.text}</Text>;
}

function LineView({ line }: { line: Line }) {
  if (line.length === 0) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {line.map((s, i) => <Piece key={i} s={s} />)}
    </Text>
  );
}

/**
 * Redraws at most every `frameMs` while events pour in (a 2,000-VM apply sends ~20,000), at once
 * for the final sentence, and every second for the clocks.
 */
export function ApplyApp({ store, screen, frameMs = 100 }: { store: ProgressStore; screen?: Screen; frameMs?: number }) {
  const { stdout } = useStdout();
  const [, setTick] = useState(0);
  const finished = store.outcome !== undefined;
  useEffect(() => {
    let pending: NodeJS.Timeout | undefined;
    const redraw = () => { pending = undefined; setTick((x) => x + 1); };
    const off = store.subscribe(() => {
      if (frameMs <= 0 || store.outcome) {
        if (pending) clearTimeout(pending);
        redraw();
      } else {
        pending ??= setTimeout(redraw, frameMs);
      }
    });
    return () => { off(); if (pending) clearTimeout(pending); };
  }, [store, frameMs]);
  useEffect(() => {
    if (finished) return;
    const t = setInterval(() => setTick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, [finished]);
  useEffect(() => {
    const onResize = () => setTick((x) => x + 1);
    stdout.on("resize", onResize);
    return () => { stdout.off("resize", onResize); };
  }, [stdout]);

  const size: Screen = screen ?? { rows: stdout.rows || FALLBACK.rows, columns: stdout.columns || FALLBACK.columns };
  const lines = layout({ model: store.model, now: store.nowMs(), screen: size, destroyMode: store.destroyMode, outcome: store.outcome });
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => <LineView key={i} line={l} />)}
    </Box>
  );
}
