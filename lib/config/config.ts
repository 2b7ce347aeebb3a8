/**
 * The hub's configuration file (`--config FILE`): pools and the routes that
 * send consumer requests to them (issue 8).
 *
 * The file is JSON with comments (JSONC): `//` line comments, `/*` block
 * comments and trailing commas are allowed. Every key is checked: an unknown
 * key, a misspelt pool name or a bad duration refuses the whole file with
 * its line, column and reason, e.g. `pothead.jsonc:12:34: route 2: pool
 * 'vidoe' is not defined in pools (did you mean 'video'?)`.
 *
 * A complete file:
 *
 * ```jsonc
 * {
 *   // Each pool has its own queue; workers pick one with --pool NAME.
 *   "pools": {
 *     "thumbnails": { "maxQueue": 500, "queueTimeout": "10s", "responseTimeout": "60s" },
 *     "video": {},                      // everything from the flags
 *   },
 *   // Tried in order; the first match wins.
 *   "routes": [
 *     {
 *       "host": "*.thumbs.example.com", // any subdomain, not the bare name
 *       "path": "/",                    // path prefix
 *       "pool": "thumbnails",
 *       "priority": 1,                  // -100..100, higher served first
 *       "allowPriorityHeader": true,    // Pothead-Priority may override
 *       "fairnessKey": "header:X-Tenant",
 *     },
 *     { "path": "/video/", "pool": "video", "fairnessKey": "client-address" },
 *   ],
 *   "defaultPool": "video",             // or null: 404 no-route
 * }
 * ```
 *
 * Top level:
 *
 * | key | value | default |
 * |---|---|---|
 * | `pools` | object: pool name → pool settings; at least one | required |
 * | `routes` | array of routes, tried in file order, first match wins | `[]` |
 * | `defaultPool` | pool for requests no route matches; `null` → 404 `no-route` | `null` |
 * | `$schema` | ignored (for editors) | |
 *
 * Pool settings (each falls back to the hub's flag):
 *
 * | key | value | flag |
 * |---|---|---|
 * | `maxQueue` | integer ≥ 1: requests beyond it get 503 `queue-full` | `--max-queue` |
 * | `queueTimeout` | duration (`"250ms"`, `"30s"`, `"5m"`): 503 `queue-timeout` after it | `--queue-timeout` |
 * | `responseTimeout` | duration: 504 `response-timeout` after dispatch | `--response-timeout` |
 *
 * A pool name is 1 to 64 letters, digits, `_`, `.` or `-`, not starting
 * with `.` or `-`; it is matched case-sensitively against the workers'
 * `--pool`.
 *
 * Route keys:
 *
 * | key | value | default |
 * |---|---|---|
 * | `pool` | a pool defined in `pools` | required |
 * | `host` | `example.com` (exact), `*.example.com` (one or more labels before `.example.com`, not `example.com` itself), or `*` (any) | any host |
 * | `path` | prefix of the request path, starting with `/` | `/` |
 * | `priority` | integer in [-100, 100]; higher classes are served first | `0` |
 * | `allowPriorityHeader` | `true`: a `Pothead-Priority` request header replaces `priority` | `false` |
 * | `fairnessKey` | `"header:<name>"` or `"client-address"`: requests of one class take turns by this key | none (one shared key) |
 *
 * Host matching ignores case, the port, and a trailing dot. Write hosts in
 * ASCII (`xn--` for international names), without a port. The path prefix
 * is compared as plain text with the request path as sent (no decoding,
 * case-sensitive, query excluded), like nginx's `location /prefix`:
 * `/video` matches `/videos` too, so end a prefix with `/` to match whole
 * segments. A route that an earlier route always shadows is an error.
 *
 * `"header:X-Tenant"` trusts the client to send an honest header: put it
 * behind a proxy that sets it. `"client-address"` uses the connection's
 * address (IPv6 clients are grouped by their /64 prefix).
 *
 * @module
 */

import { parseDuration } from "../cli/units.ts";
import {
  type JsoncDocument,
  type JsoncMember,
  type JsoncNode,
  type JsoncObject,
  JsoncSyntaxError,
  parseJsonc,
} from "./jsonc.ts";

/** The settings of one pool, after the flags' defaults are applied. */
export interface PoolSettings {
  /** The pool's name, as workers give it with `--pool`. */
  name: string;
  /** Waiting requests beyond this are refused with 503 `queue-full`. */
  maxQueue: number;
  /** Milliseconds a request may wait for a worker (503 `queue-timeout`). */
  queueTimeoutMs: number;
  /** Milliseconds from dispatch to the response head (504 `response-timeout`). */
  responseTimeoutMs: number;
}

/** Where the fairness key of a request comes from. */
export type FairnessKeySource =
  | {
    /** A request header's value (trusted: set it in a proxy in front). */
    kind: "header";
    /** The header name, lowercase. */
    header: string;
  }
  | {
    /** The consumer's network address (IPv6 grouped by /64). */
    kind: "client-address";
  };

/** One route of the configuration, validated and normalised. */
export interface RouteSpec {
  /** The route's position in `routes`, from 1 (as in error messages). */
  index: number;
  /** The line of the route's `{` in the file (0 for built-in routes). */
  line: number;
  /**
   * The host pattern, lowercase without a trailing dot: `example.com` or
   * `*.example.com`; `null` matches any host (and a request without one).
   */
  host: string | null;
  /** The path prefix; `/` matches every path. */
  path: string;
  /** The pool the route sends to. */
  pool: string;
  /** The priority class, an integer in [-100, 100]. */
  priority: number;
  /** Whether a `Pothead-Priority` request header replaces `priority`. */
  allowPriorityHeader: boolean;
  /** The source of the fairness key; `null`: one key for all. */
  fairnessKey: FairnessKeySource | null;
}

/** A whole configuration: what the hub runs with. */
export interface HubConfig {
  /** The pools by name. */
  pools: Map<string, PoolSettings>;
  /** The routes, in file order. */
  routes: RouteSpec[];
  /** The pool for requests no route matches; `null`: 404 `no-route`. */
  defaultPool: string | null;
}

/** The values the hub's flags give to every pool that does not set its own. */
export interface PoolDefaults {
  /** `--max-queue`. */
  maxQueue: number;
  /** `--queue-timeout`, in milliseconds. */
  queueTimeoutMs: number;
  /** `--response-timeout`, in milliseconds. */
  responseTimeoutMs: number;
}

/** The lowest priority class. */
export const MIN_PRIORITY: number = -100;
/** The highest priority class. */
export const MAX_PRIORITY: number = 100;

/**
 * A configuration file that cannot be used; the message starts with
 * `file:line:column:` (or `file:` when the file cannot be read).
 *
 * @example Report a bad file the way a compiler would
 * ```ts
 * import { ConfigError, parseConfig } from "./config.ts";
 * const defaults = { maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 };
 * try {
 *   parseConfig('{ "pools": { "a": { "maxQueue": 0 } } }', defaults, "pothead.jsonc");
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!(e instanceof ConfigError)) throw e;
 *   if (!e.message.startsWith("pothead.jsonc:1:33: pool 'a': maxQueue")) throw e;
 * }
 * ```
 */
export class ConfigError extends SyntaxError {
  /** The file name as given. */
  readonly fileName: string;
  /** The line, from 1; 0 when the problem has no place in the file. */
  readonly line: number;
  /** The column, from 1; 0 when the problem has no place in the file. */
  readonly column: number;
  /** The reason alone, without the place. */
  readonly reason: string;

  /**
   * Makes the error; the message is `fileName:line:column: reason`.
   *
   * @param fileName the file, as named in the message
   * @param line the line, from 1, or 0 for none
   * @param column the column, from 1, or 0 for none
   * @param reason what is wrong
   * @param options the cause, if any
   */
  constructor(
    fileName: string,
    line: number,
    column: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      line > 0
        ? `${fileName}:${line}:${column}: ${reason}`
        : `${fileName}: ${reason}`,
      options,
    );
    this.name = "ConfigError";
    this.fileName = fileName;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

/**
 * The configuration without a file: one pool named `default` with the
 * flags' values, where every request goes.
 *
 * @param defaults the flags' values
 * @returns the configuration
 *
 * @example
 * ```ts
 * import { defaultConfig } from "./config.ts";
 * const config = defaultConfig({ maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 });
 * if (config.defaultPool !== "default" || config.pools.get("default")?.maxQueue !== 1000) {
 *   throw new Error();
 * }
 * ```
 */
export function defaultConfig(defaults: PoolDefaults): HubConfig {
  return {
    pools: new Map([["default", { name: "default", ...pick(defaults) }]]),
    routes: [],
    defaultPool: "default",
  };
}

function pick(defaults: PoolDefaults): Omit<PoolSettings, "name"> {
  return {
    maxQueue: defaults.maxQueue,
    queueTimeoutMs: defaults.queueTimeoutMs,
    responseTimeoutMs: defaults.responseTimeoutMs,
  };
}

/**
 * Reads and checks a configuration file.
 *
 * @param path the file
 * @param defaults the flags' values, for whatever a pool does not set
 * @returns the configuration
 * @throws {ConfigError} when the file cannot be read or is not valid; the
 *   message names the file, and the line and column when there is one
 *
 * @example Load the file named by --config
 * ```ts
 * import { loadConfigFile } from "./config.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonc" });
 * await Deno.writeTextFile(path, '{ "pools": { "video": {} }, "defaultPool": "video" }');
 * const config = await loadConfigFile(path, { maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 });
 * await Deno.remove(path);
 * if (config.pools.get("video")?.queueTimeoutMs !== 30_000) throw new Error();
 * ```
 */
export async function loadConfigFile(
  path: string,
  defaults: PoolDefaults,
): Promise<HubConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound
      ? "cannot read the configuration: no such file"
      : `cannot read the configuration: ${e instanceof Error ? e.message : e}`;
    throw new ConfigError(path, 0, 0, reason, { cause: e });
  }
  return parseConfig(text, defaults, path);
}

const TOP_KEYS = ["pools", "routes", "defaultPool", "$schema"] as const;
const POOL_KEYS = ["maxQueue", "queueTimeout", "responseTimeout"] as const;
const ROUTE_KEYS = [
  "host",
  "path",
  "pool",
  "priority",
  "allowPriorityHeader",
  "fairnessKey",
] as const;

const POOL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const WILDCARD_HOST = new RegExp(`^\\*(?:\\.${LABEL})+$`);
const IPV6_LITERAL = /^\[[0-9a-f:.]+\]$/;
/** RFC 9110 §5.6.2 token: what a header name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses and checks a configuration file's text.
 *
 * @param text the file's content (JSONC)
 * @param defaults the flags' values, for whatever a pool does not set
 * @param fileName the name to put in error messages (`"config"` when not
 *   given)
 * @returns the configuration
 * @throws {ConfigError} with `file:line:column: reason` for the first
 *   problem found
 *
 * @example Route one tenant-aware host, send the rest to a default pool
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(`{
 *   "pools": {
 *     "thumbnails": { "maxQueue": 500, "queueTimeout": "10s" },
 *     "video": {}, // everything from the flags
 *   },
 *   "routes": [
 *     { "host": "*.thumbs.example.com", "pool": "thumbnails", "fairnessKey": "header:X-Tenant" },
 *   ],
 *   "defaultPool": "video",
 * }`, { maxQueue: 1000, queueTimeoutMs: 30_000, responseTimeoutMs: 300_000 });
 * const thumbs = config.pools.get("thumbnails")!;
 * if (thumbs.queueTimeoutMs !== 10_000 || thumbs.responseTimeoutMs !== 300_000) throw new Error();
 * if (config.routes[0].fairnessKey?.kind !== "header") throw new Error();
 * ```
 */
export function parseConfig(
  text: string,
  defaults: PoolDefaults,
  fileName = "config",
): HubConfig {
  let doc: JsoncDocument;
  try {
    doc = parseJsonc(text);
  } catch (e) {
    if (e instanceof JsoncSyntaxError) {
      throw new ConfigError(fileName, e.line, e.column, e.reason, { cause: e });
    }
    throw e;
  }
  return new Checker(doc, fileName, defaults).config();
}

/** Walks the parsed file, turning each mistake into a positioned error. */
class Checker {
  readonly #doc: JsoncDocument;
  readonly #fileName: string;
  readonly #defaults: PoolDefaults;

  constructor(doc: JsoncDocument, fileName: string, defaults: PoolDefaults) {
    this.#doc = doc;
    this.#fileName = fileName;
    this.#defaults = defaults;
  }

  #fail(offset: number, reason: string): never {
    const { line, column } = this.#doc.positionOf(offset);
    throw new ConfigError(this.#fileName, line, column, reason);
  }

  /** The object's members, after refusing keys not in `allowed`. */
  #members(
    node: JsoncNode,
    allowed: readonly string[],
    where: string,
  ): Map<string, JsoncMember> {
    if (node.type !== "object") {
      this.#fail(node.offset, `${where}must be an object, not ${kindOf(node)}`);
    }
    const out = new Map<string, JsoncMember>();
    for (const member of node.members) {
      if (!allowed.includes(member.key)) {
        const hint = closest(member.key, allowed);
        this.#fail(
          member.keyOffset,
          `${where}unknown key '${member.key}'` +
            (hint ? ` (did you mean '${hint}'?)` : "") +
            ` (allowed: ${allowed.join(", ")})`,
        );
      }
      out.set(member.key, member);
    }
    return out;
  }

  config(): HubConfig {
    const root = this.#doc.root;
    const top = this.#members(root, TOP_KEYS, "the configuration ");
    const rootObject = root as JsoncObject;

    const poolsMember = top.get("pools");
    if (poolsMember === undefined) {
      this.#fail(
        rootObject.offset,
        '\'pools\' is missing: define at least one pool, e.g. "pools": { "default": {} }',
      );
    }
    const pools = this.#pools(poolsMember.value);

    const schema = top.get("$schema");
    if (schema !== undefined && schema.value.type !== "string") {
      this.#fail(schema.value.offset, "'$schema' must be a string");
    }

    const routes: RouteSpec[] = [];
    const routesMember = top.get("routes");
    if (routesMember !== undefined) {
      const node = routesMember.value;
      if (node.type !== "array") {
        this.#fail(
          node.offset,
          `'routes' must be an array of routes, not ${kindOf(node)}`,
        );
      }
      for (const item of node.items) {
        routes.push(this.#route(item, routes.length + 1, pools));
      }
    }
    this.#checkShadowing(routes, routesMember);

    let defaultPool: string | null = null;
    const defaultMember = top.get("defaultPool");
    if (defaultMember !== undefined && defaultMember.value.type !== "null") {
      const node = defaultMember.value;
      if (node.type !== "string") {
        this.#fail(
          node.offset,
          `'defaultPool' must be a pool name or null, not ${kindOf(node)}`,
        );
      }
      if (!pools.has(node.value)) {
        this.#fail(
          node.offset,
          `defaultPool: pool '${node.value}' is not defined in pools` +
            suggestion(node.value, [...pools.keys()]),
        );
      }
      defaultPool = node.value;
    }

    if (routes.length === 0 && defaultPool === null) {
      this.#fail(
        rootObject.offset,
        "no routes and no defaultPool: every request would get 404 no-route " +
          '(add "defaultPool" or a route)',
      );
    }
    return { pools, routes, defaultPool };
  }

  #pools(node: JsoncNode): Map<string, PoolSettings> {
    if (node.type !== "object") {
      this.#fail(
        node.offset,
        `'pools' must be an object of pool name → settings, not ${
          kindOf(node)
        }`,
      );
    }
    if (node.members.length === 0) {
      this.#fail(node.offset, "'pools' is empty: define at least one pool");
    }
    const pools = new Map<string, PoolSettings>();
    for (const member of node.members) {
      const name = member.key;
      if (!POOL_NAME.test(name)) {
        this.#fail(
          member.keyOffset,
          `pool name '${name}' is not allowed: use 1 to 64 letters, digits, ` +
            "'_', '.' or '-', not starting with '.' or '-'",
        );
      }
      const where = `pool '${name}': `;
      const keys = this.#members(member.value, POOL_KEYS, where);
      const settings: PoolSettings = { name, ...pick(this.#defaults) };

      const maxQueue = keys.get("maxQueue");
      if (maxQueue !== undefined) {
        const v = maxQueue.value;
        if (
          v.type !== "number" || !Number.isSafeInteger(v.value) || v.value < 1
        ) {
          this.#fail(
            v.offset,
            `${where}maxQueue must be an integer >= 1, not ${describe(v)}`,
          );
        }
        settings.maxQueue = v.value;
      }
      const queueTimeout = keys.get("queueTimeout");
      if (queueTimeout !== undefined) {
        settings.queueTimeoutMs = this.#duration(
          queueTimeout.value,
          `${where}queueTimeout`,
        );
      }
      const responseTimeout = keys.get("responseTimeout");
      if (responseTimeout !== undefined) {
        settings.responseTimeoutMs = this.#duration(
          responseTimeout.value,
          `${where}responseTimeout`,
        );
      }
      pools.set(name, settings);
    }
    return pools;
  }

  #duration(node: JsoncNode, what: string): number {
    if (node.type !== "string") {
      this.#fail(
        node.offset,
        `${what} must be a duration string such as "30s" or "250ms", not ${
          describe(node)
        }`,
      );
    }
    let ms: number;
    try {
      ms = parseDuration(node.value);
    } catch {
      this.#fail(
        node.offset,
        `${what}: cannot parse duration '${node.value}' (use e.g. 250ms, 30s, 5m)`,
      );
    }
    if (ms <= 0) {
      this.#fail(node.offset, `${what} must be longer than 0`);
    }
    return ms;
  }

  #route(
    node: JsoncNode,
    index: number,
    pools: Map<string, PoolSettings>,
  ): RouteSpec {
    const where = `route ${index}: `;
    const keys = this.#members(node, ROUTE_KEYS, where);
    const offset = node.offset;

    const poolMember = keys.get("pool");
    if (poolMember === undefined) {
      this.#fail(offset, `${where}'pool' is missing`);
    }
    const poolNode = poolMember.value;
    if (poolNode.type !== "string") {
      this.#fail(
        poolNode.offset,
        `${where}pool must be a pool name, not ${describe(poolNode)}`,
      );
    }
    if (!pools.has(poolNode.value)) {
      this.#fail(
        poolNode.offset,
        `${where}pool '${poolNode.value}' is not defined in pools` +
          suggestion(poolNode.value, [...pools.keys()]),
      );
    }

    let host: string | null = null;
    const hostMember = keys.get("host");
    if (hostMember !== undefined) {
      host = this.#host(hostMember.value, where);
    }

    let path = "/";
    const pathMember = keys.get("path");
    if (pathMember !== undefined) {
      const v = pathMember.value;
      if (v.type !== "string") {
        this.#fail(
          v.offset,
          `${where}path must be a string starting with '/', not ${describe(v)}`,
        );
      }
      if (!v.value.startsWith("/")) {
        this.#fail(
          v.offset,
          `${where}path '${v.value}' must start with '/' (it is a prefix of the request path)`,
        );
      }
      if (/[?#]/.test(v.value)) {
        this.#fail(
          v.offset,
          `${where}path '${v.value}' must not contain '?' or '#' (only the path is matched, not the query)`,
        );
      }
      if (/[^\x21-\x7e]/.test(v.value)) {
        this.#fail(
          v.offset,
          `${where}path '${v.value}' must be printable ASCII without spaces; percent-encode other characters, as requests carry them`,
        );
      }
      path = v.value;
    }

    let priority = 0;
    const priorityMember = keys.get("priority");
    if (priorityMember !== undefined) {
      const v = priorityMember.value;
      if (
        v.type !== "number" || !Number.isInteger(v.value) ||
        v.value < MIN_PRIORITY || v.value > MAX_PRIORITY
      ) {
        this.#fail(
          v.offset,
          `${where}priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}, not ${
            describe(v)
          }`,
        );
      }
      priority = v.value;
    }

    let allowPriorityHeader = false;
    const allowMember = keys.get("allowPriorityHeader");
    if (allowMember !== undefined) {
      const v = allowMember.value;
      if (v.type !== "boolean") {
        this.#fail(
          v.offset,
          `${where}allowPriorityHeader must be true or false, not ${
            describe(v)
          }`,
        );
      }
      allowPriorityHeader = v.value;
    }

    let fairnessKey: FairnessKeySource | null = null;
    const fairnessMember = keys.get("fairnessKey");
    if (fairnessMember !== undefined && fairnessMember.value.type !== "null") {
      fairnessKey = this.#fairness(fairnessMember.value, where);
    }

    return {
      index,
      line: this.#doc.positionOf(offset).line,
      host,
      path,
      pool: poolNode.value,
      priority,
      allowPriorityHeader,
      fairnessKey,
    };
  }

  #host(node: JsoncNode, where: string): string | null {
    if (node.type !== "string") {
      this.#fail(
        node.offset,
        `${where}host must be a string such as "example.com" or "*.example.com", not ${
          describe(node)
        }`,
      );
    }
    const written = node.value;
    if (written === "*") return null;
    let host = written.toLowerCase();
    if (host.endsWith(".") && host.length > 1) host = host.slice(0, -1);
    if (/[^\x21-\x7e]/.test(host)) {
      this.#fail(
        node.offset,
        `${where}host '${written}' must be ASCII without spaces (write international names in their xn-- form)`,
      );
    }
    if (IPV6_LITERAL.test(host)) return host;
    if (/:\d*$/.test(host)) {
      this.#fail(
        node.offset,
        `${where}host '${written}' must not include a port (ports are ignored when matching)`,
      );
    }
    if (host.includes("/")) {
      this.#fail(
        node.offset,
        `${where}host '${written}' must be a host name only; put the path in "path"`,
      );
    }
    if (host.startsWith("*")) {
      if (!WILDCARD_HOST.test(host)) {
        this.#fail(
          node.offset,
          `${where}host '${written}' is not a valid pattern: a wildcard is written '*.example.com' (a whole leading label)`,
        );
      }
      return host;
    }
    if (!HOST_NAME.test(host)) {
      this.#fail(
        node.offset,
        `${where}host '${written}' is not a valid host name` +
          (host.includes("*")
            ? " (a wildcard may only be a leading '*.')"
            : ""),
      );
    }
    return host;
  }

  #fairness(node: JsoncNode, where: string): FairnessKeySource {
    const usage =
      `"header:<name>" (e.g. "header:X-Tenant") or "client-address"`;
    if (node.type !== "string") {
      this.#fail(
        node.offset,
        `${where}fairnessKey must be ${usage}, not ${describe(node)}`,
      );
    }
    const v = node.value;
    if (v === "client-address") return { kind: "client-address" };
    if (v.startsWith("header:")) {
      const name = v.slice("header:".length).trim();
      if (!TOKEN.test(name)) {
        this.#fail(
          node.offset,
          `${where}fairnessKey '${v}': '${name}' is not a valid header name`,
        );
      }
      return { kind: "header", header: name.toLowerCase() };
    }
    this.#fail(node.offset, `${where}fairnessKey '${v}' must be ${usage}`);
  }

  /** Refuses a route that an earlier one always wins over. */
  #checkShadowing(
    routes: RouteSpec[],
    member: JsoncMember | undefined,
  ): void {
    if (member === undefined || member.value.type !== "array") return;
    const items = member.value.items;
    for (let j = 1; j < routes.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = routes[i];
        const b = routes[j];
        if (hostCovers(a.host, b.host) && b.path.startsWith(a.path)) {
          this.#fail(
            items[j].offset,
            `route ${b.index} can never match: route ${a.index} (line ${a.line}) ` +
              "matches every request it would; put the more specific route first",
          );
        }
      }
    }
  }
}

/** Whether every host that pattern `b` matches is matched by pattern `a`. */
function hostCovers(a: string | null, b: string | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  if (a === b) return true;
  if (!a.startsWith("*.")) return false;
  const suffix = a.slice(1); // ".example.com"
  // "*.x.example.com" and "x.example.com" are both under "*.example.com".
  const rest = b.startsWith("*.") ? b.slice(1) : "." + b;
  return rest.endsWith(suffix) && rest.length > suffix.length;
}

function kindOf(node: JsoncNode): string {
  switch (node.type) {
    case "object":
      return "an object";
    case "array":
      return "an array";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return node.value ? "true" : "false";
    case "null":
      return "null";
  }
}

function describe(node: JsoncNode): string {
  if (node.type === "string") return `'${node.value}'`;
  if (node.type === "number") return String(node.value);
  return kindOf(node);
}

function suggestion(name: string, candidates: readonly string[]): string {
  const hint = closest(name, candidates);
  return hint ? ` (did you mean '${hint}'?)` : "";
}

/**
 * The candidate nearest to `word` (ignoring case) if it is near enough to be
 * a typo: at most 2 edits, and fewer than half the length of the longer
 * word (so 'w' suggests nothing, 'vidoe' suggests 'video').
 */
function closest(
  word: string,
  candidates: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d * 2 >= Math.max(word.length, c.length)) continue;
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      rows[i][j] = i === 0 ? j : Math.min(
        rows[i - 1][j] + 1,
        rows[i][j - 1] + 1,
        rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]
      ) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}
