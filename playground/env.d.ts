/** @fileoverview Types for the page build: esbuild loads `.flow` specs as text. */
declare module "*.flow" {
  const source: string;
  export default source;
}
