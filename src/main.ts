// The composition roots, by role: config → concrete stores → servers and background work. Only the CLI
// (and benchmarks) import this. `server` runs everything in one process; `gateway` and `node` will sit
// beside it in src/roles/ and src/node/.
export { parseStorageClasses, startServer, type RunningServer, type ServerConfig } from './roles/server.js';
export { parseMetaUrl, rootCredentials, type RootCredentials } from './roles/stores.js';
export { parseAddress } from './roles/endpoint.js';
