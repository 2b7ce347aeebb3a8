/**
 * The hubs a worker serves: every `--connect HOST:PORT`, each name resolved
 * to all its addresses and re-resolved every few seconds, so that hubs added
 * behind a name (a headless Kubernetes Service, round-robin DNS) get
 * connections. Every slot keeps a connection to every address
 * (`hub_slot.ts`, issue 7); {@linkcode HubAddresses.acquire} still picks the
 * address with the fewest connections for callers that want one.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type { HostPort } from "../cli/address.ts";

/** One address of a hub. */
export interface HubAddress {
  /** The name as given (for TLS server name and the Host header). */
  name: string;
  /** The resolved IP address. */
  ip: string;
  /** The port. */
  port: number;
}

/** Resolves a name to its addresses. */
export type Resolver = (name: string) => Promise<string[]>;

/** The system resolver (`/etc/hosts`, then DNS), every address of a name. */
export const systemResolver: Resolver = async (
  name: string,
): Promise<string[]> => {
  const all = await lookup(name, { all: true });
  return all.map((a) => a.address);
};

/**
 * The current addresses of the hubs, and how many connections each has.
 *
 * @example
 * ```ts
 * import { HubAddresses } from "./hub_addresses.ts";
 * const hubs = new HubAddresses([{ hostname: "hub", port: 4040 }], async () => ["10.0.0.1", "10.0.0.2"]);
 * await hubs.refresh();
 * const a = hubs.acquire()!;
 * const b = hubs.acquire()!;
 * if (a.ip === b.ip) throw new Error("connections not spread");
 * ```
 */
export class HubAddresses {
  #targets: HostPort[];
  #resolve: Resolver;
  #current: HubAddress[] = [];
  #use = new Map<string, number>();
  #failures = new Map<string, string>();

  /**
   * Makes the list; {@linkcode HubAddresses.refresh} resolves it.
   * @param targets the `--connect` values
   * @param resolve the resolver @default {systemResolver}
   */
  constructor(targets: HostPort[], resolve: Resolver = systemResolver) {
    this.#targets = targets;
    this.#resolve = resolve;
  }

  /** The addresses known now. */
  get addresses(): readonly HubAddress[] {
    return this.#current;
  }

  /**
   * Resolves every target again. A name that fails keeps its old addresses.
   * @returns one message per name that could not be resolved
   */
  async refresh(): Promise<string[]> {
    const errors: string[] = [];
    const next: HubAddress[] = [];
    for (const t of this.#targets) {
      const key = `${t.hostname}:${t.port}`;
      let ips: string[];
      try {
        ips = /^[\d.]+$|:/.test(t.hostname)
          ? [t.hostname]
          : await this.#resolve(t.hostname);
        this.#failures.delete(key);
      } catch (err) {
        const msg = `cannot resolve ${t.hostname}: ${
          err instanceof Error ? err.message : err
        }`;
        if (this.#failures.get(key) !== msg) errors.push(msg);
        this.#failures.set(key, msg);
        ips = this.#current.filter((a) =>
          a.name === t.hostname && a.port === t.port
        )
          .map((a) => a.ip);
      }
      for (const ip of new Set(ips)) {
        next.push({ name: t.hostname, ip, port: t.port });
      }
    }
    this.#current = next;
    return errors;
  }

  /**
   * Takes the address with the fewest connections (ties: first listed).
   * @returns the address, or null when none is known
   */
  acquire(): HubAddress | null {
    let best: HubAddress | null = null;
    let bestUse = Infinity;
    for (const a of this.#current) {
      const u = this.#use.get(keyOf(a)) ?? 0;
      if (u < bestUse) {
        best = a;
        bestUse = u;
      }
    }
    if (best) this.#use.set(keyOf(best), bestUse + 1);
    return best;
  }

  /**
   * Gives back an address taken with {@linkcode HubAddresses.acquire}.
   * @param a the address
   */
  release(a: HubAddress): void {
    const k = keyOf(a);
    const u = (this.#use.get(k) ?? 1) - 1;
    if (u <= 0) this.#use.delete(k);
    else this.#use.set(k, u);
  }
}

/**
 * `ip:port`, IPv6 in brackets.
 * @param a the address
 * @returns the text
 */
export function keyOf(a: HubAddress): string {
  return a.ip.includes(":") ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}
