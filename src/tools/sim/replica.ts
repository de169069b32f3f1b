// One simulated replica: its state plus the node:http server lifecycle.
// "refuse" closes the listening port (connection refused) and re-opening listens again on the
// same port with a fresh server; in-flight requests finish, then their connections close.
// Listen/close transitions are serialised so concurrent fault changes cannot interleave.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { once } from 'node:events';
import type { FaultPatch } from './fault-patch.js';
import type { FaultSettings, SimOptions } from './options.js';
import { ReplicaState, type LoggedRequest, type ReplicaStats } from './replica-state.js';
import { createReplicaHandler } from './replica-routes.js';
import type { ReplicaControl } from './replica-control.js';
import { SimKvEvents } from './kv-events-sim.js';

/** What tests and the CLI see of one running replica. */
export interface ReplicaHandle {
  readonly index: number;
  readonly model: string;
  readonly host: string;
  /** Port the replica owns (also while refused). */
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** False while refused (port closed). */
  readonly listening: boolean;
  stats(): ReplicaStats;
  /** The last inference requests as received (GET /sim/requests). */
  requests(): readonly LoggedRequest[];
  faults(): FaultSettings;
  /** Change faults at runtime; `refuse` closes or re-opens the port (resolves when done). */
  setFaults(patch: FaultPatch): Promise<FaultSettings>;
  /**
   * Die like a killed process: the port closes and every open connection is reset, requests
   * being generated included (their clients see a reset, no response). `setFaults({ refuse: false })`
   * brings it back.
   */
  crash(): Promise<void>;
  /** Clear the prefix cache, counters and metrics (faults are kept). */
  reset(): void;
  /** Prometheus text of /metrics. */
  metricsText(): Promise<string>;
  /** The KV-event PUB address (tcp://host:port) with --kv-events, while it publishes. */
  kvEventsAddress(): string | undefined;
  /** Close the KV-event publisher (the engine's publisher died; serving goes on). */
  stopKvEvents(): Promise<void>;
}

export class Replica implements ReplicaHandle, ReplicaControl {
  readonly state: ReplicaState;
  private server: Server | undefined;
  private readonly servers = new Set<Server>();
  private transition: Promise<void> = Promise.resolve();
  private readonly handler: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(
    readonly index: number,
    readonly model: string,
    private readonly opts: SimOptions,
  ) {
    this.state = new ReplicaState(index, model, opts);
    this.state.port = opts.basePort > 0 ? opts.basePort + index : 0;
    this.handler = createReplicaHandler(this.state, this);
  }

  get host(): string {
    return this.opts.host;
  }

  get port(): number {
    return this.state.port;
  }

  get url(): string {
    const h = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${this.opts.tlsCert !== undefined ? 'https' : 'http'}://${h}:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  stats(): ReplicaStats {
    return this.state.stats();
  }

  requests(): readonly LoggedRequest[] {
    return [...this.state.recentRequests()];
  }

  faults(): FaultSettings {
    return { ...this.state.faults };
  }

  reset(): void {
    this.state.reset();
  }

  metricsText(): Promise<string> {
    return this.state.metrics.text();
  }

  kvEventsAddress(): string | undefined {
    return this.state.kv?.running === true ? this.state.kv.address : undefined;
  }

  async stopKvEvents(): Promise<void> {
    await this.state.kv?.stop();
  }

  /** Bind the port (refused replicas with an ephemeral port bind once to learn it, then close). */
  async start(): Promise<void> {
    if (this.opts.kvEvents) {
      this.state.kv = await SimKvEvents.start({
        host: this.opts.host,
        port: this.opts.kvEventsPort > 0 ? this.opts.kvEventsPort + this.index : 0,
        tokenizer: this.opts.kvTokenizer,
        chatTemplate: this.opts.kvChatTemplate,
        hashSeed: this.opts.kvHashSeed,
        blockTokens: this.opts.blockTokens,
      });
    }
    await this.listen();
    if (this.state.faults.refuse) await this.stopListening();
  }

  setFaults(patch: FaultPatch): Promise<FaultSettings> {
    const { refuse, ...rest } = patch;
    Object.assign(this.state.faults, rest);
    if (refuse === undefined) return Promise.resolve(this.faults());
    const step = this.transition.then(async () => {
      if (refuse && this.server !== undefined) await this.stopListening();
      if (!refuse && this.server === undefined) await this.listen();
      this.state.faults.refuse = refuse;
    });
    this.transition = step.catch(() => undefined);
    return step.then(() => this.faults());
  }

  crash(): Promise<void> {
    const step = this.transition.then(async () => {
      const live = [...this.servers];
      await this.stopListening();
      for (const srv of live) srv.closeAllConnections();
      this.state.faults.refuse = true;
    });
    this.transition = step.catch(() => undefined);
    return step;
  }

  /** Stop listening and drop every connection (aborting in-flight requests). */
  async close(): Promise<void> {
    await this.transition;
    await this.state.kv?.stop();
    await this.stopListening();
    const closing = [...this.servers].map((s) => {
      const closed = once(s, 'close');
      s.closeAllConnections();
      return closed;
    });
    await Promise.all(closing);
  }

  private async listen(): Promise<void> {
    const tls =
      this.opts.tlsCert !== undefined && this.opts.tlsKey !== undefined
        ? { cert: readFileSync(this.opts.tlsCert), key: readFileSync(this.opts.tlsKey) }
        : undefined;
    const server: Server = tls !== undefined ? createTlsServer(tls, this.handler) : createServer(this.handler);
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.state.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') this.state.port = addr.port;
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    this.server = server;
  }

  private async stopListening(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    this.server = undefined;
    s.close();
    s.closeIdleConnections();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
