/**
 * Whole-page holders and requesters, shared by ivy and migrate (each file documents its message
 * sequences). A holder answers a forward with the whole page; a requester installs it.
 *
 *   ReadForward(v)  at the holder of v: read-write → read-only (parked), then PageData(v)
 *   WriteForward(v) at the holder of v: → None (parked), then PageData(v); it no longer owns the page
 *   PageData / Grant at the requester: copy the bytes (PageData), then read-only at v for a read,
 *                   read-write at v+1 for a write
 */
import { Protection } from "../abi.js";
import { MessageKind, type Message } from "./codec.js";
import { PageProtocol } from "./page_protocol.js";

export abstract class OwnershipProtocol extends PageProtocol {
  protected serveForward(msg: Message): void {
    const { page } = msg;
    const i = this.index(page);
    const write = msg.kind === MessageKind.WriteForward;
    if (this.versions[i] !== msg.version) return this.endpoint.dropStale();
    if (write && this.holdMs > 0 && !this.releasing && this.holdForward(msg, this.installedAt[i]! + this.holdMs)) return;
    const protection = this.port.protection(page);
    // Nothing to lower (a repeat of a forward already served): the kernel cannot write the page.
    if (write ? protection === Protection.None : protection !== Protection.ReadWrite) return this.sendPage(msg, write);
    this.parkedForward(msg, () => {
      if (this.versions[i] !== msg.version) return this.endpoint.dropStale();
      if (write) this.dropCopy(page);
      else if (this.port.protection(page) === Protection.ReadWrite) this.port.setProtection(page, Protection.ReadOnly);
      this.sendPage(msg, write);
    });
  }

  protected install(page: number, reply: Message, write: boolean): void {
    if (reply.kind === MessageKind.PageData) this.port.page(page).set(reply.payload);
    if (write) this.installedAt[this.index(page)] = this.scheduler.now();
    this.versions[this.index(page)] = write ? reply.version + 1 : reply.version;
    this.port.setProtection(page, write ? Protection.ReadWrite : Protection.ReadOnly);
  }
}
