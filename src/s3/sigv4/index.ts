// Public API of SigV4 verification: the HTTP layer imports from here only.
export { authenticate, parsePayloadMode, type AuthConfig, type AuthContext, type PayloadMode, type SignedRequest } from './authenticate.js';
export { decodePayload, verifyChunkedHeaders, type PayloadChecksum, type PayloadStream } from './chunked.js';
