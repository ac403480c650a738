// An edge of a fleet serves from its local replica of the configuration, but
// its administrators' accounts, tokens and audit records are the
// organization's: they live in the organization store (PostgreSQL), so one
// account works on every edge and "who changed it" has one answer. This is
// that store for api.identity, opened on first use and opened again after a
// failure, so an edge that starts while the store is down logs people in
// (and records their calls) once it is back; meanwhile the local
// administrator's token (DIR/admin.token) still works.
import { SealpostError } from "../errors/errors.js";
import type { AdminIdentityStore } from "../org/identity-store.js";
import { PgOrgStore } from "../org/pg/pg-org-store.js";

export interface FleetIdentityStore extends AdminIdentityStore {
  close(): Promise<void>;
}

export function fleetIdentityStore(url: string, opts: { open?: (url: string) => Promise<PgOrgStore> } = {}): FleetIdentityStore {
  const open = opts.open ?? ((u: string) => PgOrgStore.open(u, { application: "sealpost-identity", max: 2 }));
  let store: Promise<PgOrgStore> | undefined;
  let closed = false;
  const get = (): Promise<PgOrgStore> => {
    if (closed) return Promise.reject(new SealpostError("ORG_UNREACHABLE", "The organization store's connection for administrators was closed (the server is stopping)."));
    store ??= open(url).catch((e: unknown) => {
      store = undefined;
      throw e;
    });
    return store;
  };
  const call =
    <K extends keyof AdminIdentityStore>(k: K) =>
    async (...args: Parameters<AdminIdentityStore[K]>): Promise<Awaited<ReturnType<AdminIdentityStore[K]>>> => {
      const s = await get();
      return (s[k] as (...a: Parameters<AdminIdentityStore[K]>) => Promise<Awaited<ReturnType<AdminIdentityStore[K]>>>).apply(s, args);
    };
  return {
    listAdminUsers: call("listAdminUsers"),
    getAdminUser: call("getAdminUser"),
    adminUserByThumbprint: call("adminUserByThumbprint"),
    addAdminUser: call("addAdminUser"),
    updateAdminUser: call("updateAdminUser"),
    removeAdminUser: call("removeAdminUser"),
    listAdminTokens: call("listAdminTokens"),
    addAdminToken: call("addAdminToken"),
    removeAdminToken: call("removeAdminToken"),
    adminTokenBySha256: call("adminTokenBySha256"),
    touchAdminToken: call("touchAdminToken"),
    appendAdminAudit: call("appendAdminAudit"),
    adminAuditLog: call("adminAuditLog"),
    async close() {
      if (closed) return;
      closed = true;
      const s = store;
      store = undefined;
      if (s) await (await s.catch(() => undefined))?.close();
    },
  };
}
