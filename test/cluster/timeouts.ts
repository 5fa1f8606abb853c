// The node RPC timeout the cluster fault tests configure, and how they pass it to every process.
// TODO(#11): set through the gateway's --node-timeout once branch rpcperf is merged; until then the
// built-in call timeout applies and the bounds below follow it.
import { rpcCallTimeoutMs } from '../../src/blocks/rpc-protocol.js';

export const nodeTimeoutMs = rpcCallTimeoutMs;
export const nodeTimeoutEnv: Record<string, string> = {};
