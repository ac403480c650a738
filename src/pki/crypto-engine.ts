// pkijs and @peculiar/x509 each keep a process-wide crypto provider. Both must
// point at Node's WebCrypto before their first use; every module that calls
// into either library runs ensureCryptoEngine() first, so the order in which
// modules are imported does not matter.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import * as pkijs from "pkijs";

let ready = false;

export function ensureCryptoEngine(): void {
  if (ready) return;
  const webcrypto = globalThis.crypto;
  pkijs.setEngine("nodeEngine", new pkijs.CryptoEngine({ name: "nodeEngine", crypto: webcrypto }));
  x509.cryptoProvider.set(webcrypto);
  ready = true;
}
