// PKCS#12/PFX import (src/pki/pfx.ts parsePfx, with pfx-bags.ts,
// pfx-crypto.ts, pfx-rc2.ts), with the seed files' password "fuzz" and then
// the empty password. Seeds without a MAC and without encryption let
// mutations reach the bag and key parsing behind the integrity check.
//
// Invariants: only SealpostError comes out (no hang: iteration counts are
// capped); an accepted file yields an unencrypted PKCS#8 key that Node
// reads, a leaf first whose public key is that key's, and no certificate
// twice.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { SealpostError, isSealpostError } from "../../../src/errors/errors.js";
import { looksLikePfx, parsePfx } from "../../../src/pki/pfx.js";
import { check, expectOnlyAsync } from "./support.js";

export async function fuzz(data: Buffer): Promise<void> {
  looksLikePfx(data);
  let contents;
  try {
    contents = await parsePfx(data, "fuzz");
  } catch (e) {
    if (!isSealpostError(e, "PFX_BAD_PASSWORD")) {
      if (e instanceof SealpostError) return;
      throw e;
    }
    contents = await expectOnlyAsync(() => parsePfx(data, ""), SealpostError);
  }
  if (!contents) return;
  const key = createPrivateKey({ key: contents.keyPkcs8Der, format: "der", type: "pkcs8" });
  check(contents.certificatesDer.length > 0, "an accepted PFX has no certificate");
  const leaf = new X509Certificate(contents.certificatesDer[0] as Buffer);
  check(leaf.checkPrivateKey(key), "the first certificate does not belong to the key");
  const seen = new Set(contents.certificatesDer.map((c) => c.toString("hex")));
  check(seen.size === contents.certificatesDer.length, "a certificate is listed twice");
}
