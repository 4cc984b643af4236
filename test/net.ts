/**
 * @fileoverview Small networking helpers for tests that start servers
 * (workerd, wrangler): a free port on 127.0.0.1, and a GET that waits for a
 * server to come up.
 */
import { createServer } from "node:net";

/** A port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

/** GET `url` until something answers (a server starting up), or give up after `ms`. */
export async function fetchWhenUp(url: string, ms: number): Promise<Response | null> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const res = await fetch(url).catch(() => null);
    if (res) return res;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  return null;
}
