/**
 * The apply screen on a TTY: a line per instance with its step and elapsed time, an overall
 * progress bar, failures in red, and the final "Apply complete!" line. Only ever imported lazily
 * (ink costs ~700 ms to load; deps.md §3).
 */
import { useEffect, useState, useSyncExternalStore } from "react";
import { Box, Text } from "ink";
import Spinner from "ink-spinner";
import { formatElapsed, type InstanceRow } from "./model.js";
import type { ProgressStore } from "./store.js";

const BAR = 30;

function Row({ row, now }: { row: InstanceRow; now: number }) {
  const elapsed = row.startedAtMs === undefined ? "" : formatElapsed((row.endedAtMs ?? now) - row.startedAtMs);
  const where = [row.node, row.vmid !== undefined ? String(row.vmid) : ""].filter(Boolean).join(" ");
  const icon =
    row.status === "running" ? <Text color="cyan"><Spinner type="dots" /></Text>
    : row.status === "done" ? <Text color="green">✔</Text>
    : row.status === "failed" ? <Text color="red">✖</Text>
    : row.status === "skipped" ? <Text color="yellow">↷</Text>
    : <Text dimColor>·</Text>;
  const label = row.group ? `${row.group}/${row.instanceId}` : row.instanceId;
  return (
    <Box flexDirection="column">
      <Box>
        {icon}
        <Text color={row.status === "failed" ? "red" : undefined} dimColor={row.status === "pending"}>
          {` ${row.kind.padEnd(7)} ${label}  ${(row.step ?? "waiting").padEnd(10)} ${where.padEnd(12)} ${elapsed}`}
        </Text>
      </Box>
      {row.status === "failed" && row.error ? <Text color="red">{`    ${row.error}`}</Text> : null}
    </Box>
  );
}

export function ApplyApp({ store, maxRows = 20 }: { store: ProgressStore; maxRows?: number }) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [, setTick] = useState(0);
  const finished = store.outcome !== undefined;
  useEffect(() => {
    if (finished) return;
    const t = setInterval(() => setTick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, [finished]);

  const m = store.model;
  const now = store.nowMs();
  const active = m.rows.filter((r) => r.status === "failed" || r.status === "running");
  const rest = m.rows.filter((r) => r.status !== "failed" && r.status !== "running");
  const shown = [...active, ...rest].slice(0, maxRows);
  const hidden = m.rows.length - shown.length;
  const frac = m.actionsTotal === 0 ? 1 : m.actionsDone / m.actionsTotal;
  const filled = Math.round(frac * BAR);
  const failedRows = m.rows.filter((r) => r.status === "failed").length;

  return (
    <Box flexDirection="column">
      {shown.map((r) => <Row key={r.instanceId} row={r} now={now} />)}
      {hidden > 0 ? <Text dimColor>{`  … ${hidden} more instance${hidden === 1 ? "" : "s"}`}</Text> : null}
      <Box marginTop={1}>
        <Text color={failedRows ? "red" : "green"}>{"█".repeat(filled)}</Text>
        <Text dimColor>{"░".repeat(BAR - filled)}</Text>
        <Text>{` ${m.actionsDone}/${m.actionsTotal} steps ${Math.round(frac * 100)}%  ${formatElapsed(now - m.startedAtMs)}`}</Text>
        {failedRows ? <Text color="red">{`  ${failedRows} failed`}</Text> : null}
      </Box>
      {m.notices.map((n, i) => <Text key={i} color="yellow">{n}</Text>)}
      {store.outcome ? (
        <Box marginTop={1}>
          <Text bold color={store.outcome.ok ? "green" : "red"}>{store.outcome.line}</Text>
        </Box>
      ) : null}
    </Box>
  );
}
