/**
 * A check group: accesses that run one after another with no call, branch or branch target
 * between the group's check point and the last of them, so that one combined check at the
 * check point (the position right before the first access) is as good as a check before each:
 * nothing can park the kernel in between, so the host cannot change a page or its protection.
 *
 * Outside the loops whose slow paths move out (loop_restart.ts) a group checks one byte range:
 * otherwise a fault on one range could be followed by a fault on another, during which the host
 * may take the first range's pages again, and so on (see {@link CheckGroup.accepts}).
 *
 * Members with the same base variable are merged when that provably checks the same pages:
 * - a read whose byte range lies inside a write's range is covered by the write (a write check
 *   demands a zero byte, which also allows reading);
 * - two accesses of the same kind whose combined byte range spans at most one DSM page touch at
 *   most two pages, the pages of the range's first and last byte, and each of those is touched by
 *   one of the two accesses; checking the combined range therefore checks exactly their pages.
 */
import binaryen from "binaryen";
import { Access } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import type { CheckEmitter, CheckedAccess } from "./check_emitter.js";
import type { LoopFrame } from "./loop_restart.js";

type Ref = binaryen.ExpressionRef;

/** Where the group's check goes: a `nop` at `index` in `block`, replaced when the group closes. */
export interface CheckSite {
  block: Ref;
  index: number;
}

export class CheckGroup {
  private members: CheckedAccess[] = [];
  private hoisted: Ref[] = [];

  constructor(
    /** Serial number of the group; a variable written at an earlier serial is stable in it. */
    readonly serial: number,
    private readonly site: CheckSite,
    private readonly pageSize: number,
    /** When set, the slow path moves out of the loop to a handler labelled `label`. */
    private readonly restart?: { frame: LoopFrame; label: string },
  ) {}

  /**
   * Whether `access` may join. A group whose slow path stays inline checks one byte range (its
   * members must merge into one), so that a fault is never followed by another before the
   * accesses run: with several ranges, a host that takes one range's pages while resolving a
   * fault on another could keep the kernel retrying forever. A group whose slow path moved out of
   * the loop may check several ranges: its handler bounds the retries (loop_restart.ts).
   */
  accepts(access: CheckedAccess): boolean {
    return this.restart !== undefined || merged(this.members, access, this.pageSize).length <= 1;
  }

  /** What the group's check covers. */
  get checked(): readonly CheckedAccess[] {
    return this.members;
  }

  /** Adds an access, merged with members where that checks the same pages. */
  add(access: CheckedAccess): void {
    this.members = merged(this.members, access, this.pageSize);
  }

  /** Adds `local.set` of an address computation to run at the check point, before the check. */
  hoist(set: Ref): void {
    this.hoisted.push(set);
  }

  /** Puts the combined check (after any hoisted computations) at the group's check site. */
  close(m: binaryen.Module, emitter: CheckEmitter): void {
    let check: Ref;
    if (this.restart) {
      const frame = this.restart.frame;
      const { fast, slow } = emitter.groupExit(this.members, this.restart.label, () => frame.afterFault(m));
      frame.addHandler(this.restart.label, slow);
      check = fast;
    } else {
      check = emitter.group(this.members);
    }
    const code = this.hoisted.length > 0 ? m.block(null, [...this.hoisted, check]) : check;
    nodes.Block.setChildAt(this.site.block, this.site.index, code);
  }
}

/** `members` with `access` added, merged where that checks the same pages (see the file comment). */
function merged(members: CheckedAccess[], access: CheckedAccess, pageSize: number): CheckedAccess[] {
  const result = [...members];
  let a = { ...access };
  for (let i = 0; i < result.length; i++) {
    const e = result[i];
    if (e.base !== a.base) continue;
    if (a.access === Access.Read && e.access === Access.Write && within(a, e)) return result;
    if (a.access === Access.Write && e.access === Access.Read && within(e, a)) {
      result.splice(i--, 1);
      continue;
    }
    if (a.access === e.access) {
      const start = Math.min(a.offset, e.offset);
      const end = Math.max(a.offset + a.width, e.offset + e.width);
      if (end - start <= pageSize) {
        result.splice(i--, 1);
        a = { ...a, offset: start, width: end - start };
      }
    }
  }
  result.push(a);
  return result;
}

function within(inner: CheckedAccess, outer: CheckedAccess): boolean {
  return outer.offset <= inner.offset && inner.offset + inner.width <= outer.offset + outer.width;
}
