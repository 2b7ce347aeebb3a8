/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): where the
 * process spent its CPU, by function (self and inclusive time) and by file.
 * Used with `deno task bench --profile` to find pothead's hot spots.
 *
 * Run: `deno run -A scripts/bench/cpu_profile.ts FILE.cpuprofile [--top N]`
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The parts of a V8 CPU profile used here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One line of the summary. */
export interface Hot {
  name: string;
  selfMs: number;
  totalMs: number;
}

function shortUrl(url: string): string {
  if (!url) return "";
  const i = url.indexOf("/work/main/");
  if (i >= 0) return url.slice(i + "/work/main/".length);
  const m = /node_modules\/\.deno\/([^/]+)\/.*\/([^/]+)$/.exec(url);
  if (m) return `npm:${m[1]}/${m[2]}`;
  return url.replace(/^ext:/, "ext:").replace(/^.*\/([^/]+\/[^/]+)$/, "$1");
}

/** Key of a frame: function name and where it is. */
export function frameName(f: CallFrame): string {
  const fn = f.functionName || "(anonymous)";
  const url = shortUrl(f.url);
  return url ? `${fn} ${url}:${f.lineNumber + 1}` : fn;
}

/** Whether a frame is the project's own code (or an npm package it uses). */
function isOwn(f: CallFrame): boolean {
  return f.url.startsWith("file://");
}

/** Self and inclusive time per function, self time per file, and per owner. */
export function summarizeProfile(p: CpuProfile): {
  byFunction: Hot[];
  byFile: Hot[];
  /**
   * Each sample charged to the nearest frame of the project's own code on its
   * stack (so runtime work — ops, Request/Headers, streams — counts for the
   * code that asked for it), by function.
   */
  byOwner: Hot[];
  totalMs: number;
} {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0; // delta to the next sample = this sample's duration
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const owner = new Map<string, number>();
  const fnSelf = new Map<string, number>(),
    fnTotal = new Map<string, number>(),
    fileSelf = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const name = frameName(node.callFrame);
    fnSelf.set(name, (fnSelf.get(name) ?? 0) + us);
    const file = shortUrl(node.callFrame.url) ||
      `(${node.callFrame.functionName || "native"})`;
    fileSelf.set(file, (fileSelf.get(file) ?? 0) + us);
    // owner: nearest own frame from the leaf up
    let ownName = `(runtime) ${name}`;
    if (
      name === "(idle)" || name === "(program)" ||
      name === "(garbage collector)"
    ) ownName = name;
    else {
      for (
        let cur: number | undefined = id, g = 0;
        cur !== undefined && g < 10_000;
        cur = parent.get(cur), g++
      ) {
        const f = byId.get(cur)!.callFrame;
        if (isOwn(f)) {
          ownName = frameName(f);
          break;
        }
      }
    }
    owner.set(ownName, (owner.get(ownName) ?? 0) + us);
    // inclusive: every distinct function on the stack once
    const seen = new Set<string>();
    for (
      let cur: number | undefined = id, g = 0;
      cur !== undefined && g < 10_000;
      cur = parent.get(cur), g++
    ) {
      const nm = frameName(byId.get(cur)!.callFrame);
      if (seen.has(nm)) continue;
      seen.add(nm);
      fnTotal.set(nm, (fnTotal.get(nm) ?? 0) + us);
    }
  }
  const byFunction = [...fnTotal.keys()].map((name) => ({
    name,
    selfMs: (fnSelf.get(name) ?? 0) / 1000,
    totalMs: (fnTotal.get(name) ?? 0) / 1000,
  }));
  const byFile = [...fileSelf].map(([name, us]) => ({
    name,
    selfMs: us / 1000,
    totalMs: us / 1000,
  }));
  const byOwner = [...owner].map(([name, us]) => ({
    name,
    selfMs: us / 1000,
    totalMs: us / 1000,
  }));
  return { byFunction, byFile, byOwner, totalMs: total / 1000 };
}

/** A printable report: top functions by self time, by inclusive time, and files. */
export function profileReport(p: CpuProfile, top = 25): string {
  const { byFunction, byFile, byOwner, totalMs } = summarizeProfile(p);
  const pct = (ms: number) =>
    `${(100 * ms / (totalMs || 1)).toFixed(1).padStart(5)} %`;
  const idle = byFunction.find((h) => h.name === "(idle)")?.selfMs ?? 0;
  const busy = totalMs - idle;
  const lines = [
    `profile: ${totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (${
      pct(busy)
    })`,
    "",
    "self time (share of all samples):",
    ...byFunction.filter((h) => h.name !== "(idle)").sort((a, b) =>
      b.selfMs - a.selfMs
    ).slice(0, top)
      .map((h) => `  ${pct(h.selfMs)}  ${h.name}`),
    "",
    "inclusive time:",
    ...byFunction.filter((h) => !/^\((root|program|idle)\)$/.test(h.name)).sort(
      (a, b) => b.totalMs - a.totalMs,
    )
      .slice(0, top).map((h) => `  ${pct(h.totalMs)}  ${h.name}`),
    "",
    "charged to the nearest own function (runtime work counted for the code that asked for it):",
    ...byOwner.filter((h) => h.name !== "(idle)").sort((a, b) =>
      b.selfMs - a.selfMs
    ).slice(0, top)
      .map((h) => `  ${pct(h.selfMs)}  ${h.name}`),
    "",
    "self time by file:",
    ...byFile.sort((a, b) => b.selfMs - a.selfMs).slice(0, 15).map((h) =>
      `  ${pct(h.selfMs)}  ${h.name}`
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const file = Deno.args.find((a) => !a.startsWith("--"));
  const i = Deno.args.indexOf("--top");
  if (!file) {
    console.error("usage: cpu_profile.ts FILE.cpuprofile [--top N]");
    Deno.exit(2);
  }
  const p = JSON.parse(Deno.readTextFileSync(file)) as CpuProfile;
  console.log(profileReport(p, i >= 0 ? Number(Deno.args[i + 1]) : 25));
}
