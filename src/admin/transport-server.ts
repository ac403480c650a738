// Admin API: this server's transport settings (Get-/Set-TransportServer).
// The schema, defaults, reader and writer are in settings/transport-server.ts
// (the runtime reads them from there); this is the admin's side: the
// identity check and the view.
import { SealpostError } from "../errors/errors.js";
import { readTransportServerSettings, showTransportServerSettings, validateTransportServerEdits, writeTransportServerChange, type TransportServerEdits, type TransportServerView } from "../settings/transport-server.js";
import type { ServerContext } from "./context.js";

export {
  DEFAULT_TRANSPORT_SERVER_SETTINGS,
  parseDnsServer,
  readTransportServerSettings,
  retrySettingsOf,
  validateTransportServerEdits,
  type ConnectionLimit,
  type TransportServerEdits,
  type TransportServerSettings,
  type TransportServerView,
} from "../settings/transport-server.js";

export class TransportServerAdmin {
  constructor(private readonly ctx: ServerContext) {}

  /** Refuses an identity that is not this server's name (compared case-insensitively, a trailing dot ignored). */
  checkIdentity(identity: string | undefined): void {
    if (identity === undefined) return;
    const id = identity.trim().toLowerCase().replace(/\.$/, "");
    if (id === this.ctx.serverName.toLowerCase()) return;
    throw new SealpostError(
      "NOT_FOUND",
      `No transport server '${identity}' here: this data folder is the server ${this.ctx.serverName}. Each server keeps its own transport settings; run the command with that server's data folder, or give no identity.`,
    );
  }

  get(identity?: string): TransportServerView {
    this.checkIdentity(identity);
    const s = readTransportServerSettings(this.ctx.db);
    return { Identity: this.ctx.serverName, Name: this.ctx.serverName, ...showTransportServerSettings(s) } as unknown as TransportServerView;
  }

  /** Validates every value, then writes them all in one transaction; returns the settings now in force. */
  set(edits: TransportServerEdits, identity?: string): TransportServerView {
    this.checkIdentity(identity);
    writeTransportServerChange(this.ctx.db, validateTransportServerEdits(edits));
    return this.get();
  }
}
