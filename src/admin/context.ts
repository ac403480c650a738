// The server context moved to main/context.ts (the composition root opens it;
// the admin API works on it). Re-exported for the admin API's modules.
export * from "../main/context.js";
