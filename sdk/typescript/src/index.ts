export { CleaveClient, type DeviceIn, type Flags, type Schemas } from "./client.js";
export { CleaveError, SignedOutError, type ErrorEnvelope } from "./errors.js";
export { APP_HEADER, Session, tokensFromAnswer, type AppInfo, type RetryPolicy, type SessionOptions } from "./session.js";
export {
  CleaveSocket,
  type Position,
  type SocketOptions,
  type SocketState,
  type StreamEvent,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./socket.js";
export { MemoryTokenStorage, type TokenStorage, type Tokens } from "./tokens.js";
export type * from "./generated/frames.js";
export type { components, operations, paths } from "./generated/openapi.js";
