// The console's only way to the server: the admin door's routes
// (/adminapi/v1/Session, CmdletInfo, InvokeCommand). Every call with the
// session cookie carries the session's X-CSRF-Token; a 401 ends the session
// in the page (the login form comes back with the reason).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrf;
let onSessionEnded = () => undefined;

export function setSessionEndedHandler(fn) {
  onSessionEnded = fn;
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store", ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (e) {
    throw new ApiError(0, "NETWORK", `The server could not be reached (${e.message}).`);
  }
  let j = {};
  try {
    j = await r.json();
  } catch {
    j = {};
  }
  if (!r.ok) {
    const err = new ApiError(r.status, j.error?.code ?? `HTTP_${r.status}`, j.error?.message ?? `The server answered ${r.status}.`);
    if (r.status === 401 && path !== "/adminapi/v1/Session") {
      csrf = undefined;
      onSessionEnded(err);
    }
    throw err;
  }
  return j;
}

/** The current session (GET Session), or undefined when there is none. */
export async function currentSession() {
  try {
    const s = await call("GET", "/adminapi/v1/Session");
    csrf = s.CsrfToken;
    return s;
  } catch (e) {
    if (e.status === 401) return undefined;
    throw e;
  }
}

export async function login(name, password) {
  const s = await call("POST", "/adminapi/v1/Session", { Name: name, Password: password });
  csrf = s.CsrfToken;
  return s;
}

export async function logout() {
  try {
    await call("DELETE", "/adminapi/v1/Session", {});
  } finally {
    csrf = undefined;
  }
}

export async function cmdletInfo() {
  return (await call("GET", "/adminapi/v1/CmdletInfo")).value;
}

/** InvokeCommand: the cmdlet's result objects. extra: {Confirm, Force, WhatIf}. */
export async function invoke(name, parameters = {}, extra = {}) {
  const r = await call("POST", "/adminapi/v1/InvokeCommand", { CmdletInput: { CmdletName: name, Parameters: parameters }, ...extra });
  return r.value ?? [];
}
