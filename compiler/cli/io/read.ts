/**
 * @fileoverview Reading an input file whole, with the OS error turned into a
 * FLOW605 FlowcInputError that names the file and says why in plain words.
 */
import * as fs from "node:fs";
import { FLOW6, inputError } from "../../../runtime-wasm/host/errors.ts";

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  EMFILE: "too many open files",
};

export function readInputFile(file: string): Uint8Array {
  try {
    const buf = fs.readFileSync(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = (err.code && REASONS[err.code]) ?? err.message;
    throw inputError(FLOW6.cannotRead, { reason }, { file });
  }
}
