import { test } from "node:test";
import assert from "node:assert/strict";
import { authservIdOf, domainSecureResults, parseHeaderFields, prependFields, receivedField, stripForgedHeaders } from "../../../src/message/headers.js";

const msg = Buffer.from(
  [
    "Authentication-Results: contoso.com; x-domain-secure=pass",
    "Authentication-Results: (forged)",
    "  MAIL1.contoso.com; spf=pass",
    "Authentication-Results: woodgrovebank.com; dkim=pass",
    "X-MS-Exchange-Organization-AuthAs: Partner",
    "x-ms-exchange-organization-authdomain:",
    "\twoodgrovebank.com",
    "Subject: hello",
    "",
    "Authentication-Results: contoso.com; in the body stays",
    "",
  ].join("\r\n"),
);

test("forged Authentication-Results and X-MS-Exchange-Organization-* fields are removed, folded lines too", () => {
  const { message, removed } = stripForgedHeaders(msg, ["contoso.com", "mail1.contoso.com"]);
  assert.deepEqual(removed, ["Authentication-Results", "Authentication-Results", "X-MS-Exchange-Organization-AuthAs", "x-ms-exchange-organization-authdomain"]);
  assert.equal(
    message.toString(),
    ["Authentication-Results: woodgrovebank.com; dkim=pass", "Subject: hello", "", "Authentication-Results: contoso.com; in the body stays", ""].join("\r\n"),
  );
});

test("a message with nothing to remove is returned as is", () => {
  const clean = Buffer.from("Subject: x\r\n\r\nbody\r\n");
  assert.equal(stripForgedHeaders(clean, ["contoso.com"]).message, clean);
  assert.deepEqual(parseHeaderFields(Buffer.from("\r\nbody")), []);
});

test("authserv-id parsing skips comments and versions", () => {
  assert.equal(authservIdOf("(c) Contoso.com 1; spf=pass"), "contoso.com");
  assert.equal(authservIdOf("contoso.com;none"), "contoso.com");
});

test("marks: Received with TLS facts, and the Authentication-Results line in the given syntax", () => {
  const r = receivedField({ heloName: "mail.woodgrovebank.com", remoteAddress: "127.0.0.1", byName: "mail1.contoso.com", id: "0A1B", date: new Date("2026-11-29T06:00:00Z"), protocol: "ESMTPS", tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", clientSubject: "CN=woodgrovebank.com", clientIssuer: "CN=Woodgrove Issuing CA", verified: true } });
  assert.match(r, /^Received: from mail\.woodgrovebank\.com \(\[127\.0\.0\.1\]\)\r\n\tby mail1\.contoso\.com \(Sealpost\) with ESMTPS id 0A1B/);
  assert.match(r, /using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384/);
  assert.match(r, /client certificate subject "CN=woodgrovebank\.com", issuer "CN=Woodgrove Issuing CA", verified OK/);
  assert.match(r, /;\r\n\tSun, 29 Nov 2026 06:00:00 \+0000\r\n$/);
  assert.equal(domainSecureResults("contoso.com", "woodgrovebank.com", "AB12"), "Authentication-Results: contoso.com; x-domain-secure=pass smtp.mailfrom=woodgrovebank.com x-domain-secure.cert=AB12\r\n");
  assert.equal(prependFields(Buffer.from("S: x\r\n\r\n"), ["A: 1\r\n", "B: 2\r\n"]).toString(), "A: 1\r\nB: 2\r\nS: x\r\n\r\n");
});
