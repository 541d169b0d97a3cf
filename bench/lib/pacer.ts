import { now } from "./script.js";

/**
 * Calls `emit(i, timestamp)` for i = 0..total-1 at `rate` per second on average. Timers fire at
 * about 1 ms granularity, so each tick emits every event that has come due (1-2 at 1,000/s);
 * events of one tick share the tick's timestamp. Returns a function that stops early.
 */
export function pace(
  rate: number,
  total: number,
  emit: (i: number, timestamp: number) => void,
  done: () => void,
): () => void {
  const start = now();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const t = now();
    const due = Math.min(total, Math.floor(((t - start) * rate) / 1000) + 1);
    while (sent < due) emit(sent++, t);
    if (sent >= total) {
      done();
      return;
    }
    timer = setTimeout(tick, 1);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
