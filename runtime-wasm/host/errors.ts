/**
 * @fileoverview FlowcInputError: the one error type for bad run-time input
 * (data files, weight files, arrays handed to the host, manifests). Each
 * error carries a stable FLOW6xx code and says what is wrong and where.
 *
 * The host must not import the compiler, so the codes and their message
 * templates live here; `compiler/diagnostics/messages/runtime.ts` mirrors
 * them for the catalogue and a test keeps the two in agreement.
 */

/** Where the problem is. `row` and `column` are 1-based; in a text file `row` is the line number. */
export interface InputErrorDetails {
  file?: string;
  row?: number;
  column?: number;
  /** A tensor or parameter name, e.g. `layers.3.net.0.weight`. */
  tensor?: string;
  /** A 0-based flat element index, when that is the most precise location. */
  index?: number;
}

/** Message templates by code; `{name}` placeholders are filled from the arguments. */
export const INPUT_MESSAGES = {
  // data files
  FLOW600: "the file holds no data rows",
  FLOW601: "cell '{value}' is not a number",
  FLOW602: "value {value} is not finite; data must not contain NaN or Inf",
  FLOW603: "row has {got} columns but the rows before it have {expected}",
  FLOW604: "the data have {got} values per row but {what} needs {expected}",
  FLOW605: "cannot read the file: {reason}",
  FLOW606: "'{source}' is neither a toy density ({toys}) nor a .csv, .npy or IDX file",
  FLOW607: "each record has shape {got} but the flow's event shape is {expected} (store arrays as [N, ...event] in C order, or flat as [N, {size}])",
  FLOW608: "{what} must be {expected}, got {got}",
  FLOW609: "unknown toy density '{name}' (known: {toys})",
  // .npy and IDX
  FLOW610: "not a .npy file: it starts with {got} instead of \\x93NUMPY",
  FLOW611: "unsupported .npy format version {version} (1.0, 2.0 and 3.0 are supported)",
  FLOW612: "malformed .npy header: {reason}",
  FLOW613: "unsupported dtype '{dtype}' (supported: {supported})",
  FLOW614: "the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray) and try again",
  FLOW615: "the file is truncated: {what} needs {expected} bytes but only {got} remain",
  FLOW616: "shape {shape} of {dtype} needs {expected} data bytes but the file holds {got}",
  FLOW617: "not an IDX file: it starts with {got} (expected 00 00 <type> <dims>)",
  FLOW618: "unsupported IDX element type 0x{type} (supported: 08 ubyte, 09 byte, 0B short, 0C int, 0D float, 0E double)",
  FLOW619: "cannot decompress the gzip data: {reason}",
  // safetensors weight files
  FLOW630: "the safetensors file is {size} bytes long, shorter than its 8-byte header length field",
  FLOW631: "the header length {length} runs past the end of the file ({available} bytes follow the length field)",
  FLOW632: "the safetensors header is not valid JSON: {reason}",
  FLOW633: "the safetensors header must be a JSON object, got {got}",
  FLOW634: "tensor '{tensor}': {problem}",
  FLOW635: "tensor '{tensor}': unknown dtype '{dtype}' (known: {known})",
  FLOW636: "tensor '{tensor}': shape {shape} has an invalid dimension {dim} (dimensions are non-negative integers)",
  FLOW637: "tensor '{tensor}': data_offsets [{begin}, {end}] lie outside the {size}-byte data section",
  FLOW638: "tensor '{tensor}': data_offsets [{begin}, {end}] overlap tensor '{other}' at [{otherBegin}, {otherEnd}]",
  FLOW639: "tensor '{tensor}': data_offsets [{begin}, {end}] hold {got} bytes but shape {shape} of {dtype} needs {expected}",
  FLOW640: "__metadata__: {problem}",
  FLOW641: "cannot write tensor '{tensor}': {problem}",
  // modules and manifests
  FLOW650: "this .wasm has {count} '{section}' sections instead of one: it was not built by flowc",
  FLOW651: "the module's manifest is invalid: {reason}",
  FLOW652: "not a valid WebAssembly module: {reason}",
  FLOW653: "the flow needs {need} of memory, more than {limit}: {fix}",
  FLOW654: "parameter '{tensor}' cannot be initialised: {problem}",
  FLOW655: "this module was built by flowc {module} (manifest format {format}), but this runtime is flowc {runtime} (format {runtimeFormat}); {fix}",
  // arrays and options handed to the host
  FLOW660: "expected {expected} parameters, got {got}",
  FLOW661: "{what} has {got} values, which is not a whole number of rows of {width} (event shape {shape})",
  FLOW662: "{what} row {row}, column {column} is {value}; {problem}",
  FLOW663: "context: {problem}",
  FLOW664: "the flow has no parameters yet: call initialize() or loadWeights() first",
  FLOW665: "{what} must be {expected}, got {got}",
  FLOW666: "trainer option {option} must be {expected}, got {got}",
  // weights against the flow
  FLOW670: "these weights belong to another spec (hash {got}), not to this flow (hash {expected})",
  FLOW671: "the weight file has no tensor '{tensor}'",
  FLOW672: "tensor '{tensor}' has shape {got}, expected {expected}",
  FLOW673: "tensor '{tensor}' holds a non-finite value at index {index}",
  FLOW674: "optimizer state has {got} moments, the flow has {expected} parameters",
  // run directories and checkpoints (CLI)
  FLOW680: "{dir} is not a usable flowc run directory: {problem}",
  FLOW681: "cannot resume from {file}: {problem}",
} as const;

export type InputCode = keyof typeof INPUT_MESSAGES;

/** Readable names for the codes, so call sites say what they mean. */
export const FLOW6 = {
  emptyData: "FLOW600",
  notANumber: "FLOW601",
  nonFinite: "FLOW602",
  raggedRow: "FLOW603",
  columnCount: "FLOW604",
  cannotRead: "FLOW605",
  unknownSource: "FLOW606",
  recordShape: "FLOW607",
  badArgument: "FLOW608",
  unknownToy: "FLOW609",
  npyMagic: "FLOW610",
  npyVersion: "FLOW611",
  npyHeader: "FLOW612",
  unsupportedDtype: "FLOW613",
  fortranOrder: "FLOW614",
  truncated: "FLOW615",
  sizeMismatch: "FLOW616",
  idxMagic: "FLOW617",
  idxType: "FLOW618",
  gzip: "FLOW619",
  stTooShort: "FLOW630",
  stHeaderLength: "FLOW631",
  stHeaderJson: "FLOW632",
  stHeaderType: "FLOW633",
  stField: "FLOW634",
  stDtype: "FLOW635",
  stShape: "FLOW636",
  stOffsetRange: "FLOW637",
  stOverlap: "FLOW638",
  stSize: "FLOW639",
  stMetadata: "FLOW640",
  stEncode: "FLOW641",
  manifestSection: "FLOW650",
  manifest: "FLOW651",
  wasmInvalid: "FLOW652",
  memoryLimit: "FLOW653",
  paramInit: "FLOW654",
  moduleVersion: "FLOW655",
  paramCount: "FLOW660",
  arrayLength: "FLOW661",
  arrayValue: "FLOW662",
  context: "FLOW663",
  notInitialized: "FLOW664",
  hostArgument: "FLOW665",
  trainerOption: "FLOW666",
  weightsSpec: "FLOW670",
  weightsMissing: "FLOW671",
  weightsShape: "FLOW672",
  weightsNonFinite: "FLOW673",
  optimizerState: "FLOW674",
  runDir: "FLOW680",
  resume: "FLOW681",
} as const satisfies Record<string, InputCode>;

export class FlowcInputError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly row?: number;
  readonly column?: number;
  readonly tensor?: string;
  readonly index?: number;

  /** `message` is the complete text; use `inputError()` to build it from a code's template. */
  constructor(code: string, message: string, details: InputErrorDetails = {}) {
    super(message);
    this.name = "FlowcInputError";
    this.code = code;
    this.file = details.file;
    this.row = details.row;
    this.column = details.column;
    this.tensor = details.tensor;
    this.index = details.index;
  }

  get details(): InputErrorDetails {
    const d: InputErrorDetails = {};
    if (this.file !== undefined) d.file = this.file;
    if (this.row !== undefined) d.row = this.row;
    if (this.column !== undefined) d.column = this.column;
    if (this.tensor !== undefined) d.tensor = this.tensor;
    if (this.index !== undefined) d.index = this.index;
    return d;
  }
}

/** Fill `{name}` placeholders; an unknown one stays visible so a missing argument shows. */
export function formatInputMessage(template: string, args: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in args ? String(args[k]) : m));
}

/** `file:row:column` as editors and the compiler's code frames print it; empty without a file. */
export function locationPrefix(details: InputErrorDetails): string {
  if (details.file === undefined) return "";
  let s = details.file;
  if (details.row !== undefined) {
    s += `:${details.row}`;
    if (details.column !== undefined) s += `:${details.column}`;
  }
  return s;
}

/** Build the error for `code`: the location prefix, then the filled template. */
export function inputError(code: InputCode, args: Record<string, unknown> = {}, details: InputErrorDetails = {}): FlowcInputError {
  const text = formatInputMessage(INPUT_MESSAGES[code], args);
  const where = locationPrefix(details);
  return new FlowcInputError(code, where ? `${where}: ${text}` : text, details);
}

/** Format a shape the way messages print it: `[1, 28, 28]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
