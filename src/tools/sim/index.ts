// Public API of the simulated vLLM-like replicas: start N OpenAI-compatible servers in-process
// (used by `kvfleet sim`, the end-to-end tests, the demo and the benchmarks).
import { Replica, type ReplicaHandle } from './replica.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { modelForReplica, resolveSimOptions, type SimOptions } from './options.js';

export { defaultSimOptions, resolveSimOptions, ERROR_STATUSES } from './options.js';
export type { SimOptions, FaultSettings, ErrorStatus } from './options.js';
export type { ReplicaHandle } from './replica.js';
export type { ReplicaStats } from './replica-state.js';
export type { FaultPatch } from './fault-patch.js';
export { findFreeBasePort } from './free-port.js';

export interface SimHandle {
  replicas: ReplicaHandle[];
  /** Port of the admin server, or undefined when adminPort is 0. */
  adminPort: number | undefined;
  /** Close every server and connection (in-flight requests are aborted). */
  close(): Promise<void>;
}

/** Start the replicas (and the admin server when opts.adminPort > 0); missing options take defaults. */
export async function startSim(opts: Partial<SimOptions> = {}): Promise<SimHandle> {
  const o = resolveSimOptions(opts);
  const replicas: Replica[] = [];
  let admin: AdminServer | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.all(replicas.map((r) => r.close()));
    if (admin !== undefined) await admin.close();
  };
  try {
    for (let i = 0; i < o.replicas; i++) {
      const r = new Replica(i, modelForReplica(o.model, i), o);
      replicas.push(r);
      await r.start();
    }
    if (o.adminPort > 0) admin = await startAdminServer(replicas, o.host, o.adminPort);
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    replicas,
    adminPort: admin?.port,
    close: () => (closing ??= closeAll()),
  };
}
