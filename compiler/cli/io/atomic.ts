/**
 * @fileoverview Atomic file writes: the bytes go to a temporary file in the
 * target's directory, are flushed to disk, and the temporary file is renamed
 * over the target. A crash or a full disk leaves either the old file or the
 * new one, never a half-written target (DESIGN §7, §8).
 */
import * as fs from "node:fs";
import * as path from "node:path";

let counter = 0;

/** Write `data` to `target` atomically (synchronous). Strings are written as UTF-8. */
export function writeFileAtomic(target: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = path.dirname(path.resolve(target));
  // Same directory as the target: rename(2) is only atomic within one file system.
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.${(counter++).toString(36)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", 0o644);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing; report the first error */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* it may never have been created */ }
    throw e;
  }
  syncDir(dir);
}

/** Persist the rename itself; some platforms (Windows) cannot open a directory, so this is best-effort. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // best-effort
  } finally {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* ignore */ }
    }
  }
}
