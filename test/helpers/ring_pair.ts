/**
 * Two protocol nodes in this thread over ring links (as embedded workers talk), on a clock the
 * test sets, with the messages each sent recorded (RingLinkSpec.transcript). `deliver` handles
 * messages, soon() work and due timers until nothing moves; later() work only when asked, so a
 * test sees what waits for a node's next poll.
 */
import type { Coherence, PagePort } from "../../src/protocol/coherence.js";
import { kindName } from "../../src/protocol/message_kinds.js";
import type { ProtocolOptions } from "../../src/protocol/protocol_options.js";
import { TimerQueue } from "../../src/protocol/scheduler.js";
import { RingLink } from "../../src/transport/ring_link.js";
import { ringNetwork } from "../../src/transport/ring_network.js";
import { FakePort } from "./fake_port.js";

export function ringPair<P extends PagePort = FakePort>(create: (options: ProtocolOptions) => Coherence, makePort: () => P = () => new FakePort({ pageSize: 1024, firstPage: 16, pageCount: 4 }) as unknown as P) {
  let now = 0;
  const links = ringNetwork(2, { ringBytes: 64 << 10, transcript: true }).map((s) => new RingLink(s));
  const timers = [new TimerQueue(() => now), new TimerQueue(() => now)];
  const ports = [makePort(), makePort()];
  const nodes = [0, 1].map((i) => create({ transport: links[i]!, port: ports[i]!, job: 1, timeoutMs: 5000, scheduler: timers[i], readAhead: false }));
  for (const n of nodes) n.start();
  const deliver = (options: { later?: boolean } = {}) => {
    for (let moved = true; moved; ) {
      moved = false;
      for (let i = 0; i < 2; i++) {
        if (links[i]!.pump() > 0) moved = true;
        if (timers[i]!.runSoon()) moved = true;
        if (timers[i]!.runDue()) moved = true;
        if (options.later && timers[i]!.runLater()) moved = true;
      }
    }
  };
  const sent = (i: number) => (links[i]!.sent ?? []).map(([kind, to]) => `${kindName(kind)} ${i}→${to}`);
  const advance = (ms: number, options: { later?: boolean } = {}) => {
    now += ms;
    deliver(options);
  };
  return { nodes, ports, timers, deliver, sent, advance };
}
