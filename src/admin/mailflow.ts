// Admin API: Test-Mailflow — a probe through the real send path (outbound/probe.ts).
import { normalizeAddress } from "../org/validate.js";
import { testMailflow, type MailflowReport } from "../outbound/probe.js";
import type { ServerContext } from "./context.js";

export class MailflowAdmin {
  constructor(private readonly ctx: ServerContext) {}

  async test(target: string, opts: { detailed?: boolean; from?: string } = {}): Promise<MailflowReport> {
    const to = normalizeAddress("TargetEmailAddress", target).address;
    const from = opts.from !== undefined ? normalizeAddress("From", opts.from).address : undefined;
    return testMailflow(this.ctx, to, { ...(opts.detailed ? { detailed: true } : {}), ...(from ? { from } : {}) });
  }
}
