/**
 * Errors cross from a node's worker to the thread that started it as plain data and come back as
 * instances of their own class, so a caller can still tell a PageTimeoutError from an
 * AllocationMismatchError with `instanceof`. Fields the error carries (node, page, …) come along;
 * a class not listed here arrives as a plain Error with its name and message.
 */
import * as protocolErrors from "../protocol/errors.js";
import { CodecError } from "../protocol/codec_checks.js";
import { DiffError } from "../protocol/diff.js";
import { DiffLogError } from "../protocol/diff_log.js";
import { FragmentError } from "../protocol/fragments.js";
import { IntervalOrderError } from "../protocol/release/intervals.js";
import { SoloFaultError } from "../protocol/solo.js";
import * as transportErrors from "../transport/errors.js";
import { RingError } from "../transport/ring.js";
import * as runtimeErrors from "./errors.js";
import * as checkpointErrors from "../checkpoint/errors.js";
import { ParkingError } from "./memory_port.js";

/** An error as it travels between threads. */
export interface RelayedError {
  name: string;
  message: string;
  stack?: string;
  /** The error's own fields, where they are plain data. */
  fields: Record<string, unknown>;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const CLASSES = new Map<string, ErrorClass>();
for (const module of [protocolErrors, transportErrors, runtimeErrors, checkpointErrors]) {
  for (const value of Object.values(module)) if (typeof value === "function" && value.prototype instanceof Error) CLASSES.set(value.name, value as ErrorClass);
}
for (const c of [CodecError, DiffError, DiffLogError, FragmentError, IntervalOrderError, SoloFaultError, RingError, ParkingError]) CLASSES.set(c.name, c);

export function relayError(error: unknown): RelayedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    if (isPlain(value)) fields[key] = value;
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

/** The error `relayError` described, as an instance of its class when that class is known here. */
export function reviveError(relayed: RelayedError): Error {
  const cls = CLASSES.get(relayed.name);
  const error: Error = cls ? Object.create(cls.prototype) : new Error(relayed.message);
  Object.defineProperty(error, "message", { value: relayed.message, writable: true, configurable: true, enumerable: false });
  Object.assign(error, relayed.fields);
  (error as { name: string }).name = relayed.name;
  if (relayed.stack) Object.defineProperty(error, "stack", { value: relayed.stack, writable: true, configurable: true, enumerable: false });
  return error;
}

function isPlain(value: unknown): boolean {
  if (value === null || ["string", "number", "boolean", "bigint", "undefined"].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isPlain);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isPlain);
  return false;
}
