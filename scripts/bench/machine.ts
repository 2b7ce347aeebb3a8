/**
 * What machine a run was on, printed with every table.
 *
 * @module
 */

/** Machine facts. */
export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memGiB: number;
  deno: string;
  kernel: string;
  loadavg: number[];
}

/** Reads the machine facts. */
export function machine(): Machine {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
  } catch { /* not Linux */ }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpu,
    cores: navigator.hardwareConcurrency,
    memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
    kernel: Deno.osRelease(),
    loadavg: Deno.loadavg(),
  };
}

/** One line for tables and the chart. */
export function machineLine(m: Machine): string {
  return `${m.date} · ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB · Deno ${m.deno} · Linux ${m.kernel} · load ${
    m.loadavg.map((x) => x.toFixed(2)).join(" ")
  }`;
}

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}
