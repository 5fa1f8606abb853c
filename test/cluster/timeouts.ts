// The node RPC timeout the hung-node and partition tests give the gateway (`--node-timeout`, through its
// environment variable, which dev-cluster passes on to its children). Short, so a test waits seconds
// rather than the 30 s default; not so short that a slow answer on a loaded machine makes a node suspect.
export const nodeTimeoutMs = 3000;
export const nodeTimeoutEnv: Record<string, string> = { TESSERA_NODE_TIMEOUT: String(nodeTimeoutMs) };
