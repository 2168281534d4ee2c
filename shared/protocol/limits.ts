/**
 * The protocol's numbers (shared/protocol.ts explains them), apart from its schemas so that the
 * browser app can import them without bundling zod.
 */
/** Bytes of output kept per terminal for re-attaching. */
export const REPLAY_BUFFER_BYTES = 1024 * 1024;
/**
 * Unacknowledged output above which the server stops reading the PTY. It bounds what Ctrl-C has to
 * wait for (a browser's xterm.js parses it in tens of ms); with the frame below and the largest PTY
 * read it must stay under what the replay buffer keeps, or a detached shell would lose output.
 */
export const FLOW_HIGH_BYTES = 512 * 1024;
/**
 * ... and below which it reads again: high enough that the client still has output to parse while
 * the PTY is read again and the next frame travels (256/64 KiB streamed slower in the benchmark).
 */
export const FLOW_LOW_BYTES = 256 * 1024;
/** Output frames are at most this large (every frame costs a socket.io packet, a WebSocket write and an ack). */
export const FRAME_MAX_BYTES = 128 * 1024;
/** Output waiting is sent at most this long after the previous frame. */
export const COALESCE_MS = 8;
/** One `term:input` carries at most this many characters (the client splits longer pastes). */
export const INPUT_MAX_CHARS = 32 * 1024;
/** engine.io's limit for one message; larger ones close the transport. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Open terminals per attempt. */
export const TERMINALS_PER_ATTEMPT = 12;
export const COLS = { min: 2, max: 500 } as const;
export const ROWS = { min: 2, max: 200 } as const;
/** A write-up's markdown, in UTF-8 bytes (a thorough one is 5-15 KiB; 64 KiB leaves room, not a dumping ground). */
export const WRITEUP_MAX_BYTES = 64 * 1024;
/** One comment on a write-up, in characters. */
export const COMMENT_MAX_CHARS = 4000;
