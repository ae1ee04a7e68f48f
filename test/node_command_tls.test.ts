/**
 * `dsm node` over TLS with a private CA: the server verifies client certificates, so a node needs
 * --tls-ca to trust the server and --tls-cert / --tls-key to be trusted.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { NatsServer } from "../src/transport/nats_server.js";
import { DsmProcess, oneNodeResult, settleAll } from "./helpers/dsm_node.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const Tls = suite("nats over TLS");

/** A private CA, a server certificate for localhost / 127.0.0.1 and a client certificate. */
function makeCertificates(folder: string): boolean {
  const openssl = (...args: string[]) => spawnSync("openssl", args, { cwd: folder, encoding: "utf8" });
  if (openssl("version").status !== 0) return false;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(join(folder, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  const steps = [
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=dsm-test-ca"],
    ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"],
    ["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=dsm-node"],
    ["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "2"],
  ];
  for (const step of steps) {
    const r = openssl(...step);
    if (r.status !== 0) throw new Error(`openssl ${step.join(" ")} failed: ${r.stderr}`);
  }
  return true;
}

Tls("nodes need the CA and, when the server verifies clients, their own certificate", async () => {
  const folder = mkdtempSync(join(tmpdir(), "dsm-tls-test-"));
  let tlsServer: NatsServer | null = null;
  try {
    if (!makeCertificates(folder)) {
      if (process.env.CI === "true") assert.unreachable("openssl is required in CI");
      console.error("SKIPPED (openssl not installed): nats over TLS");
      return;
    }
    const f = (name: string) => join(folder, name);
    tlsServer = await natsOrSkip("nats over TLS", {
      config: `tls { cert_file: "${f("server.pem")}", key_file: "${f("server.key")}", ca_file: "${f("ca.pem")}", verify: true }\n`,
    });
    if (!tlsServer) return;
    const module = (await kernel("assembly/kernels/jacobi.ts")).instrumented;
    const kernelPath = join(folder, "jacobi.wasm");
    writeFileSync(kernelPath, module.bytes);
    const run = (...tls: string[]) => new DsmProcess(["node", kernelPath, "--nats", tlsServer!.url, "--job", "tls", "--nodes", "1", "--json", ...tls, "--", "48", "4"]);
    const good = run("--tls-ca", f("ca.pem"), "--tls-cert", f("client.pem"), "--tls-key", f("client.key"));
    const noCert = run("--tls-ca", f("ca.pem"));
    const noCa = run();
    const exits = await settleAll([good, noCert, noCa], 30_000);
    assert.equal(exits.map((e) => e.code), [0, 1, 1], good.err);
    assert.is(JSON.parse(good.out).result, await oneNodeResult(module, ["48", "4"]));
    assert.match(noCert.err, `dsm: NatsConnectError: cannot connect to nats at ${tlsServer.url}`);
    assert.match(noCa.err, `dsm: NatsConnectError: cannot connect to nats at ${tlsServer.url} (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
  } finally {
    await tlsServer?.stop();
    rmSync(folder, { recursive: true, force: true });
  }
});

Tls.run();
