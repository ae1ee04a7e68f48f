/**
 * NATS credentials and TLS options shared by `dsm run --transport nats` and `dsm node`: their
 * parseArgs declarations, help text, and validation into the fields NatsTransport takes.
 *
 * Secrets can come from the environment (DSM_NATS_USER, DSM_NATS_PASS, DSM_NATS_TOKEN) so they
 * do not show in `ps`; files (nkey seed, creds, TLS) are checked for readability here, so a typo
 * is a usage error naming the option and the path rather than a failure inside the client.
 */
import { accessSync, constants } from "node:fs";
import type { NatsAuth } from "../transport/nats_transport.js";
import { UsageError } from "./options.js";


/** parseArgs declarations of the credential and TLS options. */
export const NATS_AUTH_OPTIONS = {
  user: { type: "string" },
  pass: { type: "string" },
  token: { type: "string" },
  nkey: { type: "string" },
  creds: { type: "string" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const;

export const NATS_AUTH_HELP = `  --user NAME --pass P  nats user and password (env DSM_NATS_USER, DSM_NATS_PASS)
  --token T             nats token (env DSM_NATS_TOKEN)
  --nkey FILE           file holding an nkey seed (SU...)
  --creds FILE          a .creds file (JWT and nkey seed)
  --tls-ca FILE         require TLS, trusting this CA (PEM)
  --tls-cert FILE --tls-key FILE
                        client certificate and key for servers that verify clients`;

type Values = Partial<Record<keyof typeof NATS_AUTH_OPTIONS, string | boolean | undefined>>;

/** Validates the credential and TLS options; env supplies user, pass and token when not given. */
export function parseNatsAuth(values: Values, env: NodeJS.ProcessEnv = process.env): NatsAuth {
  const text = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);
  const user = text(values.user) ?? env.DSM_NATS_USER;
  const pass = text(values.pass) ?? env.DSM_NATS_PASS;
  const token = text(values.token) ?? env.DSM_NATS_TOKEN;
  const auth: NatsAuth = {};
  if (user !== undefined || pass !== undefined) {
    if (!user) throw new UsageError(`--pass needs --user (or DSM_NATS_USER); give both`);
    if (pass === undefined) throw new UsageError(`--user "${user}" needs --pass (or DSM_NATS_PASS); give both`);
    auth.user = user;
    auth.pass = pass;
  }
  if (token !== undefined) {
    if (token === "") throw new UsageError(`--token "": empty; give the token the server expects`);
    auth.token = token;
  }
  const nkey = readable("nkey", text(values.nkey));
  const creds = readable("creds", text(values.creds));
  const methods = [auth.user && "--user", auth.token && "--token", nkey && "--nkey", creds && "--creds"].filter(Boolean);
  if (methods.length > 1) throw new UsageError(`${methods.join(" and ")}: give one way to authenticate, not ${methods.length}`);
  if (nkey) auth.nkeySeedFile = nkey;
  if (creds) auth.credsFile = creds;
  const caFile = readable("tls-ca", text(values["tls-ca"]));
  const certFile = readable("tls-cert", text(values["tls-cert"]));
  const keyFile = readable("tls-key", text(values["tls-key"]));
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new UsageError(certFile ? `--tls-cert needs --tls-key (the certificate's private key)` : `--tls-key needs --tls-cert (the client certificate)`);
  }
  if (caFile || certFile) auth.tls = { ...(caFile && { caFile }), ...(certFile && { certFile, keyFile }) };
  return auth;
}

/** True when any credential or TLS option is set. */
export function hasNatsAuth(auth: NatsAuth): boolean {
  return Object.values(auth).some((v) => v !== undefined);
}

function readable(option: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new UsageError(`--${option} "${path}": cannot read it (${(error as NodeJS.ErrnoException).code}); give the path of an existing file`);
  }
  return path;
}
