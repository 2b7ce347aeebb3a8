import assert from "node:assert/strict";
import {
  ConfigError,
  defaultConfig,
  loadConfigFile,
  parseConfig,
  type PoolDefaults,
} from "./config.ts";

const DEFAULTS: PoolDefaults = {
  maxQueue: 1000,
  queueTimeoutMs: 30_000,
  responseTimeoutMs: 300_000,
};

/** The example of the issue and of the README, comments and all. */
const EXAMPLE = `{
  "pools": {
    "thumbnails": { "maxQueue": 500, "queueTimeout": "10s", "responseTimeout": "60s" },
    "video": {}                       // everything defaults to the flags
  },
  "routes": [
    { "host": "*.thumbs.example.com", "path": "/", "pool": "thumbnails", "priority": 1, "allowPriorityHeader": true, "fairnessKey": "header:X-Tenant" },
    { "path": "/video/", "pool": "video", "fairnessKey": "client-address" }
  ],
  "defaultPool": "video"              // or null/absent → 404 no-route
}`;

function configError(text: string, fileName = "pothead.jsonc"): ConfigError {
  try {
    parseConfig(text, DEFAULTS, fileName);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`accepted:\n${text}`);
}

Deno.test("parseConfig reads the documented example", () => {
  const config = parseConfig(EXAMPLE, DEFAULTS, "pothead.jsonc");
  assert.deepEqual(
    config.pools,
    new Map([
      ["thumbnails", {
        name: "thumbnails",
        maxQueue: 500,
        queueTimeoutMs: 10_000,
        responseTimeoutMs: 60_000,
      }],
      ["video", { name: "video", ...DEFAULTS }],
    ]),
  );
  assert.deepEqual(config.routes, [
    {
      index: 1,
      line: 7,
      host: "*.thumbs.example.com",
      path: "/",
      pool: "thumbnails",
      priority: 1,
      allowPriorityHeader: true,
      fairnessKey: { kind: "header", header: "x-tenant" },
    },
    {
      index: 2,
      line: 8,
      host: null,
      path: "/video/",
      pool: "video",
      priority: 0,
      allowPriorityHeader: false,
      fairnessKey: { kind: "client-address" },
    },
  ]);
  assert.equal(config.defaultPool, "video");
});

Deno.test("parseConfig accepts comments and trailing commas everywhere", () => {
  const config = parseConfig(
    `/* pothead */ {
      "$schema": "./pothead.schema.json",
      "pools": { "a": { "maxQueue": 1, }, /* b next */ "b": {}, },
      // routes
      "routes": [ { "pool": "a", "path": "/a/", }, { "pool": "b", }, ],
    } // end`,
    DEFAULTS,
  );
  assert.deepEqual([...config.pools.keys()], ["a", "b"]);
  assert.equal(config.routes.length, 2);
  assert.equal(config.defaultPool, null);
});

Deno.test("parseConfig normalises hosts", () => {
  const config = parseConfig(
    `{ "pools": { "p": {} }, "routes": [
      { "host": "Thumbs.Example.COM.", "pool": "p" },
      { "host": "*.Example.ORG", "pool": "p" },
      { "host": "*", "path": "/any/", "pool": "p" },
      { "host": "[::1]", "pool": "p" },
      { "host": "192.0.2.1", "pool": "p" },
    ] }`,
    DEFAULTS,
  );
  assert.deepEqual(config.routes.map((r) => r.host), [
    "thumbs.example.com",
    "*.example.org",
    null,
    "[::1]",
    "192.0.2.1",
  ]);
});

Deno.test("defaultConfig is one pool named default", () => {
  const config = defaultConfig(DEFAULTS);
  assert.deepEqual(
    config.pools,
    new Map([["default", { name: "default", ...DEFAULTS }]]),
  );
  assert.deepEqual(config.routes, []);
  assert.equal(config.defaultPool, "default");
});

Deno.test("ConfigError names file, line, column and reason", () => {
  // The example: a misspelt pool on line 12.
  const text = `{
  "pools": {
    "thumbnails": {},
    "video": {},
  },
  "routes": [
    {
      "host": "*.thumbs.example.com",
      "pool": "thumbnails",
    },
    {
      "path": "/video/", "pool": "vidoe",
    },
  ],
}`;
  const e = configError(text);
  assert.equal(
    e.message,
    "pothead.jsonc:12:34: route 2: pool 'vidoe' is not defined in pools (did you mean 'video'?)",
  );
  assert.equal(e.fileName, "pothead.jsonc");
  assert.equal(e.line, 12);
  assert.equal(e.column, 34);
  assert.ok(e instanceof SyntaxError);
});

Deno.test("ConfigError for bad JSON points at the place", () => {
  const e = configError(`{
  "pools": {
    "video": {}
    "thumbs": {}
  }
}`);
  assert.equal(e.line, 4);
  assert.equal(e.column, 5);
  assert.match(e.message, /^pothead\.jsonc:4:5: unexpected '"': expected ','/);
});

Deno.test("ConfigError for unknown keys, at every level", () => {
  const top = configError(`{
  "pools": { "video": {} },
  "rotes": [],
}`);
  assert.equal(
    top.message,
    "pothead.jsonc:3:3: the configuration unknown key 'rotes' (did you mean 'routes'?) (allowed: pools, routes, defaultPool, $schema)",
  );

  const pool = configError(`{
  "pools": {
    "video": { "maxqueue": 5 },
  },
  "defaultPool": "video",
}`);
  assert.equal(pool.line, 3);
  assert.equal(pool.column, 16);
  assert.match(
    pool.reason,
    /^pool 'video': unknown key 'maxqueue' \(did you mean 'maxQueue'\?\)/,
  );

  const route = configError(`{
  "pools": { "video": {} },
  "routes": [
    { "pool": "video" },
    { "pool": "video", "path": "/v/", "prority": 2 },
  ],
}`);
  assert.equal(route.line, 5);
  assert.equal(route.column, 39);
  assert.match(route.reason, /^route 2: unknown key 'prority'/);
});

Deno.test("ConfigError for bad durations", () => {
  const e = configError(`{
  "pools": {
    "video": {
      "queueTimeout": "10 seconds",
    },
  },
  "defaultPool": "video",
}`);
  assert.equal(e.line, 4);
  assert.equal(e.column, 23);
  assert.equal(
    e.reason,
    "pool 'video': queueTimeout: cannot parse duration '10 seconds' (use e.g. 250ms, 30s, 5m)",
  );
  const n = configError(
    `{ "pools": { "v": { "responseTimeout": 30 } }, "defaultPool": "v" }`,
  );
  assert.match(n.reason, /responseTimeout must be a duration string/);
  const zero = configError(
    `{ "pools": { "v": { "queueTimeout": "0s" } }, "defaultPool": "v" }`,
  );
  assert.match(zero.reason, /queueTimeout must be longer than 0/);
});

Deno.test("ConfigError for every invalid value", () => {
  const pools = `"pools": { "video": {} }`;
  const cases: Array<[string, RegExp]> = [
    [`[]`, /the configuration must be an object/],
    [`{}`, /'pools' is missing/],
    [`{ "pools": {} }`, /'pools' is empty/],
    [`{ "pools": [] }`, /'pools' must be an object/],
    [`{ "pools": { "bad name": {} }, "defaultPool": null }`, /pool name/],
    [`{ "pools": { "-x": {} } }`, /pool name '-x'/],
    [`{ "pools": { "v": null } }`, /pool 'v': must be an object, not null/],
    [
      `{ "pools": { "v": { "maxQueue": 0 } } }`,
      /maxQueue must be an integer >= 1, not 0/,
    ],
    [
      `{ "pools": { "v": { "maxQueue": 1.5 } } }`,
      /maxQueue must be an integer/,
    ],
    [`{ "pools": { "v": { "maxQueue": "10" } } }`, /maxQueue .* not '10'/],
    [`{ ${pools} }`, /no routes and no defaultPool/],
    [`{ ${pools}, "defaultPool": null }`, /no routes and no defaultPool/],
    [
      `{ ${pools}, "defaultPool": "vid" }`,
      /defaultPool: pool 'vid' is not defined/,
    ],
    [
      `{ ${pools}, "defaultPool": 1 }`,
      /'defaultPool' must be a pool name or null/,
    ],
    [`{ ${pools}, "routes": {} }`, /'routes' must be an array/],
    [
      `{ ${pools}, "routes": [ "video" ] }`,
      /route 1: must be an object, not a string/,
    ],
    [`{ ${pools}, "routes": [ {} ] }`, /route 1: 'pool' is missing/],
    [
      `{ ${pools}, "routes": [ { "pool": 1 } ] }`,
      /route 1: pool must be a pool name/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "path": "video" } ] }`,
      /must start with '\/'/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "path": "/v?x=1" } ] }`,
      /not the query/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "path": "/ä" } ] }`,
      /percent-encode/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "priority": 101 } ] }`,
      /priority must be an integer from -100 to 100, not 101/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "priority": -101 } ] }`,
      /priority/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "priority": 1.5 } ] }`,
      /priority/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "priority": "1" } ] }`,
      /priority .* not '1'/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "allowPriorityHeader": "yes" } ] }`,
      /true or false/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "fairnessKey": "tenant" } ] }`,
      /fairnessKey 'tenant' must be "header:<name>"/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "fairnessKey": "header:" } ] }`,
      /not a valid header name/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "fairnessKey": "header:X Tenant" } ] }`,
      /not a valid header name/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "fairnessKey": 1 } ] }`,
      /fairnessKey must be/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "example.com:8080" } ] }`,
      /must not include a port/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "example.com/x" } ] }`,
      /put the path in "path"/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "ex*.com" } ] }`,
      /wildcard may only be a leading/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "*example.com" } ] }`,
      /not a valid pattern/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "*." } ] }`,
      /not a valid pattern/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "a.*.com" } ] }`,
      /not a valid host name/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "bücher.de" } ] }`,
      /xn--/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": "" } ] }`,
      /not a valid host name/,
    ],
    [
      `{ ${pools}, "routes": [ { "pool": "video", "host": 5 } ] }`,
      /host must be a string/,
    ],
    [
      `{ ${pools}, "$schema": 1, "defaultPool": "video" }`,
      /'\$schema' must be a string/,
    ],
  ];
  for (const [text, reason] of cases) {
    const e = configError(text);
    assert.match(e.reason, reason, text);
    assert.ok(e.line >= 1 && e.column >= 1, text);
  }
});

Deno.test("ConfigError for a route that can never match", () => {
  const cases: Array<[string, string, boolean]> = [
    [`{ "pool": "v" }`, `{ "pool": "v", "path": "/a/" }`, true],
    [`{ "pool": "v", "path": "/a" }`, `{ "pool": "v", "path": "/a/b" }`, true],
    [`{ "pool": "v", "path": "/a/" }`, `{ "pool": "v", "path": "/b/" }`, false],
    [`{ "pool": "v", "path": "/a/b" }`, `{ "pool": "v", "path": "/a" }`, false],
    [
      `{ "pool": "v", "host": "*.x.com" }`,
      `{ "pool": "v", "host": "a.x.com" }`,
      true,
    ],
    [
      `{ "pool": "v", "host": "*.x.com" }`,
      `{ "pool": "v", "host": "*.a.x.com" }`,
      true,
    ],
    [
      `{ "pool": "v", "host": "*.x.com" }`,
      `{ "pool": "v", "host": "X.com" }`,
      false,
    ],
    [
      `{ "pool": "v", "host": "*.x.com" }`,
      `{ "pool": "v", "host": "ax.com" }`,
      false,
    ],
    [
      `{ "pool": "v", "host": "a.x.com" }`,
      `{ "pool": "v", "host": "*.x.com" }`,
      false,
    ],
    [
      `{ "pool": "v", "host": "A.x.com" }`,
      `{ "pool": "v", "host": "a.X.com." }`,
      true,
    ],
    [`{ "pool": "v", "host": "a.x.com" }`, `{ "pool": "v" }`, false],
    [
      `{ "pool": "v", "host": "*" }`,
      `{ "pool": "v", "host": "a.x.com" }`,
      true,
    ],
  ];
  for (const [first, second, shadowed] of cases) {
    const text =
      `{ "pools": { "v": {} }, "routes": [\n  ${first},\n  ${second},\n] }`;
    if (shadowed) {
      const e = configError(text);
      assert.equal(e.line, 3, text);
      assert.equal(e.column, 3, text);
      assert.match(
        e.reason,
        /^route 2 can never match: route 1 \(line 2\) matches every request it would/,
      );
    } else {
      assert.equal(parseConfig(text, DEFAULTS).routes.length, 2, text);
    }
  }
});

Deno.test("ConfigError without a file name says config", () => {
  assert.throws(
    () => parseConfig(`{`, DEFAULTS),
    (e: unknown) =>
      e instanceof ConfigError && e.message.startsWith("config:1:2: "),
  );
});

Deno.test("loadConfigFile reads a file and names it in errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = `${dir}/pothead.jsonc`;
    await Deno.writeTextFile(good, EXAMPLE);
    const config = await loadConfigFile(good, DEFAULTS);
    assert.equal(config.routes.length, 2);

    const bad = `${dir}/bad.jsonc`;
    await Deno.writeTextFile(
      bad,
      `{\n  "pools": { "v": {} },\n  "defaultPool": "w"\n}`,
    );
    await assert.rejects(
      () => loadConfigFile(bad, DEFAULTS),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `${bad}:3:18: defaultPool: pool 'w' is not defined in pools`,
    );

    const missing = `${dir}/missing.jsonc`;
    await assert.rejects(
      () => loadConfigFile(missing, DEFAULTS),
      (e: unknown) =>
        e instanceof ConfigError && e.line === 0 &&
        e.message === `${missing}: cannot read the configuration: no such file`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the complete example in the module documentation is valid", async () => {
  const source = await Deno.readTextFile(
    new URL("./config.ts", import.meta.url),
  );
  const block = /```jsonc\n([\s\S]*?) \* ```/.exec(source);
  assert.ok(block, "no jsonc block in config.ts");
  const text = block[1].replace(/^ \* ?/gm, "");
  const config = parseConfig(text, DEFAULTS, "README");
  assert.deepEqual([...config.pools.keys()], ["thumbnails", "video"]);
  assert.equal(config.routes.length, 2);
  assert.equal(config.defaultPool, "video");
});
