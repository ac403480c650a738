// Client-certificate login on the HTTPS admin door: an account that names a
// certificate's SHA-1 thumbprint (-ClientCertificateThumbprint) is
// authenticated by a request presenting that certificate; another
// certificate, or none, is not. The TLS handshake proves the key; the
// thumbprint pins the certificate (no CA is consulted).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { localOperator } from "../../src/adminapi/accounts.js";
import { doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";
import { OpenSslCa, opensslSha1, type IssuedCert } from "../helpers/openssl-ca.js";

let ca: OpenSslCa;
let d: InProcessDoor;
let admin: IssuedCert;
let stranger: IssuedCert;

before(async () => {
  ca = await OpenSslCa.createRoot({ name: "O=Door Test,CN=Door Client Root", keyType: "ec-p256" });
  const serverCert = ca.issueLeaf({ subject: "CN=127.0.0.1", ipAddresses: ["127.0.0.1"], keyType: "ec-p256", eku: "serverAuth" });
  admin = ca.issueLeaf({ subject: "CN=alice", keyType: "ec-p256", eku: "clientAuth" });
  stranger = ca.issueLeaf({ subject: "CN=mallory", keyType: "ec-p256", eku: "clientAuth" });
  d = await startDoor({ tls: { key: serverCert.keyPem as string, cert: serverCert.certPem } });
  await d.api.identity.createUser({ name: "alice", roleGroups: ["Server Management"], password: "alice-password-123", clientCertificateThumbprint: opensslSha1(admin.certPem) }, localOperator());
});

after(async () => {
  await d?.close();
  ca?.cleanup();
});

test("the pinned client certificate logs in its account; another certificate or none does not", async () => {
  const me = await doorRequest(d.door.address, "/adminapi/v1/Session", { scheme: "https", clientCert: { cert: admin.certPem, key: admin.keyPem as string } });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json().Name, "alice");
  assert.equal(me.json().AuthenticatedBy, "client-certificate");
  assert.deepEqual(me.json().RoleGroups, ["Server Management"]);
  const other = await doorRequest(d.door.address, "/adminapi/v1/Session", { scheme: "https", clientCert: { cert: stranger.certPem, key: stranger.keyPem as string } });
  assert.equal(other.status, 401);
  const none = await doorRequest(d.door.address, "/adminapi/v1/Session", { scheme: "https" });
  assert.equal(none.status, 401);
});

test("a state-changing call with the certificate still needs the Origin, and the role", async () => {
  const cert = { cert: admin.certPem, key: admin.keyPem as string };
  const origin = `https://${d.door.address}`;
  const body = { CmdletInput: { CmdletName: "Set-TransportConfig", Parameters: { TLSReceiveDomainSecureList: ["a.example"] } } };
  const noOrigin = await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { scheme: "https", clientCert: cert, body, headers: { "content-type": "application/json" } });
  assert.equal(noOrigin.status, 403);
  const byRole = await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { scheme: "https", clientCert: cert, body, headers: { origin, "content-type": "application/json" } });
  assert.equal(byRole.status, 403);
  assert.equal(byRole.json().error.code, "ROLE_REQUIRED");
  const allowed = await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { scheme: "https", clientCert: cert, body: { CmdletInput: { CmdletName: "Get-ExchangeCertificate" } }, headers: { origin, "content-type": "application/json" } });
  assert.equal(allowed.status, 200, allowed.text);
});
