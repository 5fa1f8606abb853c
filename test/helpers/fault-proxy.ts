// A fault-injecting TCP proxy for cluster tests: it sits between a gateway and a node and can pass bytes,
// swallow them (a network partition: nothing answers, nothing closes) or reset connections, switched at
// run time. It only forwards bytes; it knows nothing of HTTP or the node RPC.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * - `pass`: forward both ways.
 * - `blackhole`: every connection, open or new, is accepted and its bytes swallowed both ways; nothing
 *   is answered or closed, and a close on one side is not passed to the other (a partition).
 * - `reset`: open connections are reset (RST) and new ones are reset as soon as they are accepted.
 * A connection blackholed once stays dead after the mode goes back to `pass`; only new ones pass.
 */
export type FaultMode = 'pass' | 'blackhole' | 'reset';

export interface FaultProxy {
  /** `127.0.0.1:PORT`, for a layout or a node address. */
  readonly address: string;
  readonly port: number;
  readonly mode: FaultMode;
  setMode(mode: FaultMode): void;
  stats(): FaultProxyStats;
  /** Closes the listener and destroys every connection, blackholed ones too. */
  close(): Promise<void>;
}

export interface FaultProxyStats {
  accepted: number;
  /** Open connections that still forward. */
  passing: number;
  /** Open connections that swallow everything. */
  blackholed: number;
  /** Bytes dropped by blackholed connections, both ways. */
  swallowedBytes: number;
  resets: number;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  dead: boolean;
}

export interface FaultProxyOptions {
  mode?: FaultMode;
  /** Listen on this port (e.g. the address a layout already names) instead of a free one. */
  port?: number;
}

/** Starts a proxy on 127.0.0.1 in front of `target` (`host:port`). */
export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const { hostname, port: targetPort } = new URL(`tcp://${target}`);
  if (!hostname || !targetPort) throw new TypeError(`Cannot proxy to "${target}": expected host:port`);
  let mode: FaultMode = options.mode ?? 'pass';
  const pairs = new Set<Pair>();
  const counts = { accepted: 0, swallowedBytes: 0, resets: 0 };

  const swallow = (pair: Pair) => {
    pair.dead = true;
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket) continue;
      socket.removeAllListeners('data');
      socket.on('data', (chunk: Buffer) => (counts.swallowedBytes += chunk.length));
      socket.resume(); // keep reading, so the sender's writes complete as they would into a lost network
    }
  };
  const reset = (pair: Pair) => {
    counts.resets++;
    pairs.delete(pair);
    for (const socket of [pair.client, pair.upstream]) if (socket && !socket.destroyed) socket.resetAndDestroy();
  };
  // A passing pair closes as a whole when either side goes; a partition passes no close on, so a dead
  // pair is forgotten only once both sides have gone by themselves.
  const closed = (pair: Pair) => {
    if (!pair.dead) forget(pair);
    else if (pair.client.destroyed && (pair.upstream?.destroyed ?? true)) pairs.delete(pair);
  };
  const forget = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    counts.accepted++;
    client.on('error', () => {}); // a reset from either end is part of the game; 'close' follows
    const pair: Pair = { client, upstream: undefined, dead: false };
    pairs.add(pair);
    client.on('close', () => closed(pair));
    if (mode === 'reset') return reset(pair);
    if (mode === 'blackhole') return swallow(pair);
    const upstream = connect(Number(targetPort), hostname);
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('connect', () => client.resume());
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('data', (chunk: Buffer) => {
        if (!pair.dead && !to.write(chunk)) {
          from.pause();
          to.once('drain', () => pair.dead || from.resume());
        }
      });
      from.on('end', () => pair.dead || to.end());
    }
    upstream.on('close', () => closed(pair));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      for (const pair of [...pairs]) {
        if (next === 'reset') reset(pair);
        else if (next === 'blackhole' && !pair.dead) swallow(pair);
      }
    },
    stats: () => {
      let passing = 0;
      for (const pair of pairs) if (!pair.dead) passing++;
      return { ...counts, passing, blackholed: pairs.size - passing };
    },
    async close() {
      for (const pair of [...pairs]) forget(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
