/** @fileoverview The compiler's version, recorded in every module manifest and weight file. */
export const FLOWC_VERSION = "0.1.0";
