/**
 * The app's real service time: how long the job's `setTimeout` sleep really
 * takes for each nominal size, measured in-process with the job's own code,
 * four lanes at once (like four one-slot workers).
 *
 * @module
 */

import { sleepJob } from "./job_app.ts";

/** Measures `samples[ms]` sleeps for each nominal size; returns durations per size. */
export async function measureServiceTimes(
  samples: Map<number, number>,
  lanes = 4,
): Promise<Map<number, number[]>> {
  const jobs: number[] = [];
  for (const [ms, n] of samples) for (let i = 0; i < n; i++) jobs.push(ms);
  // interleave sizes so each lane sees the mix
  jobs.sort((a, b) => a - b);
  const order = jobs.map((_, i) => jobs[(i * 7919) % jobs.length]);
  const out = new Map<number, number[]>(
    [...samples.keys()].map((k) => [k, []]),
  );
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < order.length) {
      const ms = order[next++];
      out.get(ms)!.push(await sleepJob(ms));
    }
  }));
  return out;
}
