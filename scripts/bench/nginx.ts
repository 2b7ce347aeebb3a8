/**
 * nginx in front of the backends: round robin or `least_conn`, with a shared
 * upstream zone (so both worker processes see the same counts) and keep-alive
 * connections to the backends. Runs in the foreground with its own prefix.
 *
 * @module
 */

import type { Balancer } from "./haproxy.ts";
import { freePort, spawn, stop, waitForPort } from "./procs.ts";

/** Which nginx set-up. */
export type NginxMode = "round-robin" | "least_conn";

/** The install hint printed when nginx is missing. */
export const NGINX_INSTALL = "apt-get update && apt-get install -y nginx-light";

/** The configuration text (exported for inspection). */
export function nginxConfig(
  mode: NginxMode,
  port: number,
  backends: number[],
  prefix: string,
): string {
  return `worker_processes 2;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
worker_rlimit_nofile 100000;
events { worker_connections 40000; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  upstream be {
    zone be 64k;
    ${mode === "least_conn" ? "least_conn;" : ""}
${backends.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join("\n")}
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_request_buffering off;
      proxy_buffering off;
      client_max_body_size 0;
    }
  }
}
`;
}

/** Starts nginx and waits until it listens. */
export async function startNginx(
  mode: NginxMode,
  backends: number[],
  dir: string,
): Promise<Balancer> {
  const port = freePort();
  Deno.mkdirSync(`${dir}/nginx-${mode}`, { recursive: true });
  const prefix = Deno.realPathSync(`${dir}/nginx-${mode}`); // nginx resolves relative paths against -p
  const cfg = `${prefix}/nginx.conf`;
  Deno.writeTextFileSync(cfg, nginxConfig(mode, port, backends, prefix));
  const proc = spawn(`nginx-${mode}`, [
    "nginx",
    "-p",
    prefix,
    "-c",
    cfg,
    "-e",
    `${prefix}/error.log`,
  ], {
    nofile: 100_000,
  });
  try {
    await waitForPort(port, 10_000, proc);
  } catch (e) {
    await stop(proc);
    throw e;
  }
  const pids = () => {
    // master + its workers (children listed in /proc/<pid>/task/<pid>/children)
    try {
      const kids = Deno.readTextFileSync(
        `/proc/${proc.pid}/task/${proc.pid}/children`,
      ).trim();
      return [proc.pid, ...kids.split(/\s+/).filter(Boolean).map(Number)];
    } catch {
      return [proc.pid];
    }
  };
  return {
    name: mode === "least_conn" ? "nginx least_conn" : "nginx round robin",
    port,
    proc,
    pids,
    // nginx: SIGTERM = fast shutdown of master and workers
    stop: () => stop(proc, 5000),
  };
}
