/**
 * Resident memory of a process, read from `/proc/<pid>/status`, for the
 * measurement scripts.
 *
 * @module
 */

/** Resident set size now and at its peak, in bytes. */
export interface ProcMemory {
  /** `VmRSS`. */
  rss: number;
  /** `VmHWM`: the peak resident set size. */
  hwm: number;
}

/**
 * Reads a process's resident memory.
 * @param pid the process
 * @returns RSS and peak RSS in bytes (NaN where the kernel does not say)
 */
export async function procMemory(pid: number): Promise<ProcMemory> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN) *
    1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}
