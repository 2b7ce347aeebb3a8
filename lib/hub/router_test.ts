import assert from "node:assert/strict";
import {
  type HubConfig,
  parseConfig,
  type RouteSpec,
} from "../config/config.ts";
import {
  clientAddressKey,
  fairnessKeyOf,
  normalizeHost,
  requestPriority,
  Router,
} from "./router.ts";

const DEFAULTS = {
  maxQueue: 1000,
  queueTimeoutMs: 30_000,
  responseTimeoutMs: 300_000,
};

function config(routes: string, defaultPool: string | null = null): HubConfig {
  return parseConfig(
    `{
      "pools": { "thumbnails": {}, "video": {}, "api": {}, "fallback": {} },
      "routes": [${routes}],
      "defaultPool": ${JSON.stringify(defaultPool)},
    }`,
    DEFAULTS,
    "test.jsonc",
  );
}

function route(overrides: Partial<RouteSpec>): RouteSpec {
  return {
    index: 1,
    line: 1,
    host: null,
    path: "/",
    pool: "p",
    priority: 0,
    allowPriorityHeader: false,
    fairnessKey: null,
    ...overrides,
  };
}

Deno.test("Router: mixed-case hosts route alike, port and trailing dot ignored", () => {
  const router = new Router(config(`
    { "host": "thumbs.example.com", "pool": "thumbnails" },
  `));
  for (
    const host of [
      "thumbs.example.com",
      "Thumbs.Example.COM:8080",
      "THUMBS.EXAMPLE.COM",
      "thumbs.example.com.",
      "Thumbs.Example.Com.:443",
      " thumbs.example.com ",
    ]
  ) {
    assert.equal(router.match(host, "/x")?.pool, "thumbnails", host);
  }
  for (
    const host of [
      "thumbs.example.co",
      "xthumbs.example.com",
      "a.thumbs.example.com",
      "thumbs.example.com.evil.net",
    ]
  ) {
    assert.equal(router.match(host, "/x"), null, host);
  }
  assert.equal(router.match(null, "/x"), null, "no Host header");
});

Deno.test("Router: a mixed-case host in the file matches too", () => {
  const router = new Router(config(`
    { "host": "Thumbs.Example.COM.", "pool": "thumbnails" },
    { "host": "*.Video.Example.COM", "pool": "video" },
  `));
  assert.equal(router.match("thumbs.example.com", "/")?.pool, "thumbnails");
  assert.equal(router.match("eu.video.example.com", "/")?.pool, "video");
});

Deno.test("Router: wildcard hosts match one or more labels, not the bare suffix", () => {
  const router = new Router(config(`
    { "host": "*.example.com", "pool": "thumbnails" },
  `));
  assert.equal(router.match("a.example.com", "/")?.pool, "thumbnails");
  assert.equal(router.match("A.B.Example.com:80", "/")?.pool, "thumbnails");
  assert.equal(router.match("example.com", "/"), null);
  assert.equal(router.match("badexample.com", "/"), null);
  assert.equal(router.match(".example.com", "/"), null);
  assert.equal(router.match(null, "/"), null);
});

Deno.test("Router: IPv6 literals keep their brackets, ports are dropped", () => {
  const router = new Router(config(`
    { "host": "[::1]", "pool": "thumbnails" },
    { "host": "192.0.2.1", "pool": "video" },
  `));
  assert.equal(router.match("[::1]:8080", "/")?.pool, "thumbnails");
  assert.equal(router.match("[::1]", "/")?.pool, "thumbnails");
  assert.equal(router.match("192.0.2.1:8080", "/")?.pool, "video");
  assert.equal(router.match("[::2]:8080", "/"), null);
});

Deno.test("Router: path prefixes on the path only, case-sensitive", () => {
  const router = new Router(config(`
    { "path": "/video/", "pool": "video" },
    { "path": "/api", "pool": "api" },
  `));
  assert.equal(router.match("h", "/video/1.mp4")?.pool, "video");
  assert.equal(router.match("h", "/video/")?.pool, "video");
  assert.equal(router.match("h", "/video"), null, "the prefix has a slash");
  assert.equal(router.match("h", "/Video/1"), null, "paths are case-sensitive");
  assert.equal(router.match("h", "/x?next=/video/"), null, "query ignored");
  assert.equal(router.match("h", "/x#/video/"), null, "fragment ignored");
  assert.equal(router.match("h", "/api")?.pool, "api");
  assert.equal(router.match("h", "/api/v1?x")?.pool, "api");
  assert.equal(router.match("h", "/apis")?.pool, "api", "plain text prefix");
  assert.equal(router.match(null, "/api")?.pool, "api", "no host needed");
});

Deno.test("Router: first match wins in file order; specific before general", () => {
  const router = new Router(config(`
    { "host": "a.example.com", "path": "/video/", "pool": "api" },
    { "host": "*.example.com", "path": "/video/", "pool": "video" },
    { "host": "a.example.com", "pool": "fallback" },
    { "host": "*.example.com", "pool": "thumbnails" },
    { "path": "/video/", "pool": "api" },
  `));
  const cases: Array<[string | null, string, string | undefined, number]> = [
    ["a.example.com", "/video/x", "api", 1],
    ["b.example.com", "/video/x", "video", 2],
    ["A.Example.com", "/img", "fallback", 3],
    ["b.example.com", "/img", "thumbnails", 4],
    ["other.org", "/video/x", "api", 5],
    ["example.com", "/video/x", "api", 5],
    ["other.org", "/img", undefined, 0],
  ];
  for (const [host, path, pool, index] of cases) {
    const m = router.match(host, path);
    assert.equal(m?.pool, pool, `${host} ${path}`);
    if (m) assert.equal(m.route?.index, index, `${host} ${path}`);
  }
});

Deno.test("Router: default pool when nothing matches; null without one", () => {
  const withDefault = new Router(config(
    `{ "path": "/video/", "pool": "video" }`,
    "fallback",
  ));
  const m = withDefault.match("h", "/other");
  assert.deepEqual(m, { pool: "fallback", route: null });
  assert.equal(withDefault.match("h", "/video/1")?.pool, "video");

  const without = new Router(config(`{ "path": "/video/", "pool": "video" }`));
  assert.equal(without.match("h", "/other"), null);
  assert.equal(without.match(null, "*"), null);
});

Deno.test("Router: the matches are shared, frozen objects", () => {
  const router = new Router(
    config(`{ "path": "/v/", "pool": "video" }`, "api"),
  );
  const a = router.match("x", "/v/1");
  assert.equal(a, router.match("y", "/v/2"));
  assert.ok(Object.isFrozen(a));
  assert.equal(router.match("x", "/"), router.match("y", "/z"));
});

Deno.test("Router: defaultConfig-like config sends everything to one pool", () => {
  const router = new Router({
    pools: new Map([["default", {
      name: "default",
      ...DEFAULTS,
    }]]),
    routes: [],
    defaultPool: "default",
  });
  assert.deepEqual(router.match(null, "/"), { pool: "default", route: null });
});

Deno.test("Router: configuration errors carry line numbers", () => {
  const cases: Array<[string, string]> = [
    [
      // bad JSON: a missing comma
      `{\n  "pools": { "video": {} }\n  "defaultPool": "video"\n}`,
      "pothead.jsonc:3:3: unexpected '\"': expected ',' or '}' after the value of 'pools'",
    ],
    [
      // unknown key
      `{\n  "pools": { "video": {} },\n  "routes": [\n    { "pool": "video", "paht": "/" },\n  ],\n}`,
      "pothead.jsonc:4:24: route 1: unknown key 'paht' (did you mean 'path'?) (allowed: host, path, pool, priority, allowPriorityHeader, fairnessKey)",
    ],
    [
      // undefined pool
      `{\n  "pools": { "video": {} },\n  "routes": [\n    { "path": "/", "pool": "vidoe" },\n  ],\n}`,
      "pothead.jsonc:4:28: route 1: pool 'vidoe' is not defined in pools (did you mean 'video'?)",
    ],
    [
      // bad duration
      `{\n  "pools": {\n    "video": { "queueTimeout": "5 min" },\n  },\n  "defaultPool": "video",\n}`,
      "pothead.jsonc:3:32: pool 'video': queueTimeout: cannot parse duration '5 min' (use e.g. 250ms, 30s, 5m)",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseConfig(text, DEFAULTS, "pothead.jsonc"), {
      name: "ConfigError",
      message,
    });
  }
});

Deno.test("Router: comments and trailing commas in the file", () => {
  const router = new Router(parseConfig(
    `// pothead
    {
      "pools": { "video": {}, /* more later */ },
      "routes": [
        { "host": "*.Example.com", "pool": "video", }, // trailing commas
      ],
    }`,
    DEFAULTS,
  ));
  assert.equal(router.match("v.example.com:80", "/")?.pool, "video");
});

Deno.test("normalizeHost", () => {
  assert.equal(normalizeHost(null), null);
  assert.equal(normalizeHost(""), null);
  assert.equal(normalizeHost(":8080"), null);
  assert.equal(normalizeHost("Example.COM"), "example.com");
  assert.equal(normalizeHost("example.com.:8080"), "example.com");
  assert.equal(normalizeHost("[2001:DB8::1]:443"), "[2001:db8::1]");
  assert.equal(normalizeHost("2001:db8::1"), "2001:db8::1");
});

Deno.test("requestPriority honours the header only when the route allows it", () => {
  const closed = route({ priority: 3 });
  const open = route({ priority: 3, allowPriorityHeader: true });
  assert.equal(requestPriority(null, "50"), 0);
  assert.equal(requestPriority(closed, null), 3);
  assert.equal(requestPriority(closed, "50"), 3);
  assert.equal(requestPriority(open, null), 3);
  const cases: Array<[string, number]> = [
    ["50", 50],
    [" -7 ", -7],
    ["+2", 2],
    ["0", 0],
    ["-0", 0],
    ["101", 100],
    ["-1000", -100],
    ["99999999999999999999999", 100],
    ["", 3],
    ["high", 3],
    ["1.5", 3],
    ["1e2", 3],
    ["0x10", 3],
    ["5, 6", 3],
    ["NaN", 3],
    ["Infinity", 3],
  ];
  for (const [header, expected] of cases) {
    assert.equal(requestPriority(open, header), expected, header);
  }
});

Deno.test("fairnessKeyOf by header and by client address", () => {
  const headers = new Headers({ "X-Tenant": "acme", "X-Team": "acme" });
  assert.equal(fairnessKeyOf(null, headers, "10.0.0.1"), "");
  assert.equal(fairnessKeyOf(route({}), headers, "10.0.0.1"), "");

  const byTenant = route({
    fairnessKey: { kind: "header", header: "x-tenant" },
  });
  const byTeam = route({ fairnessKey: { kind: "header", header: "x-team" } });
  assert.equal(fairnessKeyOf(byTenant, headers, "10.0.0.1"), "x-tenant=acme");
  assert.notEqual(
    fairnessKeyOf(byTenant, headers, "10.0.0.1"),
    fairnessKeyOf(byTeam, headers, "10.0.0.1"),
  );
  assert.equal(fairnessKeyOf(byTenant, new Headers(), "10.0.0.1"), "");
  assert.equal(
    fairnessKeyOf(byTenant, new Headers({ "x-tenant": "" }), "10.0.0.1"),
    "",
  );

  const byAddress = route({ fairnessKey: { kind: "client-address" } });
  assert.equal(fairnessKeyOf(byAddress, headers, "10.0.0.1"), "addr=10.0.0.1");
  assert.equal(
    fairnessKeyOf(byAddress, headers, "2001:db8:1:2:aaaa::1"),
    fairnessKeyOf(byAddress, headers, "2001:db8:1:2:bbbb::9"),
  );
});

Deno.test("clientAddressKey groups IPv6 by /64", () => {
  const cases: Array<[string, string]> = [
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["[::ffff:192.0.2.7]", "192.0.2.7"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:0DB8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::/64"],
    ["[2001:db8:0:1::5]", "2001:db8:0:1::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    ["64:ff9b::192.0.2.7", "64:ff9b:0:0::/64"],
    ["not:an:address", "not:an:address"],
    ["1::2::3", "1::2::3"],
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"],
    ["unix-socket", "unix-socket"],
  ];
  for (const [address, key] of cases) {
    assert.equal(clientAddressKey(address), key, address);
  }
});
