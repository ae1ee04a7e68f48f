/**
 * What every hlrc role (home.ts, writer.ts, fetch.ts) is given by the protocol that composes it
 * (hlrc.ts): one node's pages, messages and placement. Each role's context adds only what is its
 * own, so a role's constructor says what it depends on beyond these.
 */
import type { PagePort } from "../coherence.js";
import type { Endpoint } from "../endpoint.js";
import type { Placement } from "../placement.js";

export interface RoleContext {
  port: PagePort;
  endpoint: Endpoint;
  placement: Placement;
  node: number;
  timeoutMs: number;
}
