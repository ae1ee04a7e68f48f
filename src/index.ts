/**
 * wasm-dsm as a library: what a program embedding it uses, by name. The `dsm` command
 * (src/cli/) is built from these.
 */

// ABI and memory layout
export { ABI_VERSION, Access, Protection, computeLayout, type Layout, type LayoutOptions, type Metadata } from "./abi.js";

// Building kernels
export { buildKernel, type BuildOptions, type BuildOutput } from "./instrument/build.js";
export { buildKernelIsolated } from "./instrument/build_worker.js";
export { compileKernel, CompileError } from "./instrument/compile.js";
export { instrument, toText, enabledOptimizations, CHECK_OPTIMIZATIONS, InstrumentError, type CheckOptimization, type InstrumentOptions } from "./instrument/instrument.js";
export { assertChecked, verifyChecks, UncheckedAccessError, type UncheckedAccess } from "./instrument/verify_checks.js";

// Running them
export { NodeThread, type NodeResult, type NodeRunOptions } from "./runtime/node_thread.js";
export type { NodeSpec, ProtocolSpec, RuntimeStats } from "./runtime/node_spec.js";
export { loadKernelModule, parseRunArguments, type KernelModule } from "./runtime/kernel_module.js";
export { FaultTimeoutError, KernelArgumentError, KernelModuleError, KernelTrapError, SyncWaitError, WorkerExitError } from "./runtime/errors.js";
export { runJob, PROTOCOL_NAMES, TRANSPORT_NAMES, type JobRequest } from "./cluster/run_job.js";
export { runCluster, type ClusterOptions } from "./cluster/cluster.js";
export type { JobResult, NodeStats, PerNodeResult } from "./cluster/job.js";

// Coherence protocols
export { createProtocol, PROTOCOLS } from "./protocol/index.js";
export type { Coherence, PagePort, ProtocolContext, ProtocolStats } from "./protocol/coherence.js";
export {
  AllocationMismatchError,
  BarrierCountError,
  InvalidProtocolOptionError,
  LockUsageError,
  PageRangeError,
  PageTimeoutError,
  ProtocolClosedError,
  SyncTimeoutError,
  UnknownProtocolError,
} from "./protocol/errors.js";

// Transports
export type { Link, Transport, MessageHandler } from "./transport/transport.js";
export { RingLink, type RingLinkSpec } from "./transport/ring_link.js";
export { ringNetwork } from "./transport/ring_network.js";
export { RelayHub } from "./transport/ring_relay.js";
export { LocalNetwork, LocalTransport } from "./transport/local_transport.js";
export { NatsTransport, type NatsTransportOptions } from "./transport/nats_transport.js";
export { startNatsServer, findNatsServer, type NatsServer } from "./transport/nats_server.js";
export {
  NatsAuthError,
  NatsConnectError,
  NatsCredentialsError,
  NatsServerNotFoundError,
  NoRespondersError,
  PayloadTooLargeError,
  TransportClosedError,
  TransportError,
  TransportTimeoutError,
} from "./transport/errors.js";

// Checking what a run did
export { checkLinearizable, decodeHistoryLog, type Operation, type CheckResult } from "./verify/index.js";
