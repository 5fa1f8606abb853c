// The composition roots, by role: config → concrete stores → servers and background work. Only the CLI
// (and benchmarks) import this. `server` runs everything in one process; `gateway` serves S3 over the
// storage nodes (src/roles/gateway.ts); `node` is src/node/.
export { parseStorageClasses, startServer, type RunningServer, type ServerConfig } from './roles/server.js';
export { rootCredentials, type RootCredentials } from './roles/stores.js';
export { parseAddress } from './roles/endpoint.js';
export { startGateway, type GatewayConfig, type RunningGateway } from './roles/gateway.js';
export { readInitialLayout, type InitialNode } from './roles/initial-layout.js';
