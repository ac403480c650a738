// Public surface of the SMTP receive engine.
export { SmtpReceiver } from "./receiver.js";
export { formatReply } from "./replies.js";
export type * from "./types.js";
