/**
 * @fileoverview FLOW6xx messages: run-time input (data files, weight files, arrays passed to the host).
 * Codes are stable: add, never renumber.
 *
 * The host throws these as `FlowcInputError` (runtime-wasm/host/errors.ts),
 * which cannot import the compiler and so holds the same templates; a test
 * checks that the two tables agree. The error's message starts with
 * `file:row:column: ` when the input came from a file.
 */
import type { MessageDef } from "../types.ts";

export const runtimeMessages: Record<string, MessageDef> = {
  // data files (CSV, .npy, IDX) and data sources
  FLOW600: { severity: "error", message: "the file holds no data rows" },
  FLOW601: { severity: "error", message: "cell '{value}' is not a number" },
  FLOW602: { severity: "error", message: "value {value} is not finite; data must not contain NaN or Inf" },
  FLOW603: { severity: "error", message: "row has {got} columns but the rows before it have {expected}" },
  FLOW604: { severity: "error", message: "the data have {got} values per row but {what} needs {expected}" },
  FLOW605: { severity: "error", message: "cannot read the file: {reason}" },
  FLOW606: { severity: "error", message: "'{source}' is neither a toy density ({toys}) nor a .csv, .npy or IDX file" },
  FLOW607: { severity: "error", message: "each record has shape {got} but the flow's event shape is {expected} (store arrays as [N, ...event] in C order, or flat as [N, {size}])" },
  FLOW608: { severity: "error", message: "{what} must be {expected}, got {got}" },
  FLOW609: { severity: "error", message: "unknown toy density '{name}' (known: {toys})" },
  // .npy and IDX containers
  FLOW610: { severity: "error", message: "not a .npy file: it starts with {got} instead of \\x93NUMPY" },
  FLOW611: { severity: "error", message: "unsupported .npy format version {version} (1.0, 2.0 and 3.0 are supported)" },
  FLOW612: { severity: "error", message: "malformed .npy header: {reason}" },
  FLOW613: { severity: "error", message: "unsupported dtype '{dtype}' (supported: {supported})" },
  FLOW614: { severity: "error", message: "the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray) and try again" },
  FLOW615: { severity: "error", message: "the file is truncated: {what} needs {expected} bytes but only {got} remain" },
  FLOW616: { severity: "error", message: "shape {shape} of {dtype} needs {expected} data bytes but the file holds {got}" },
  FLOW617: { severity: "error", message: "not an IDX file: it starts with {got} (expected 00 00 <type> <dims>)" },
  FLOW618: { severity: "error", message: "unsupported IDX element type 0x{type} (supported: 08 ubyte, 09 byte, 0B short, 0C int, 0D float, 0E double)" },
  FLOW619: { severity: "error", message: "cannot decompress the gzip data: {reason}" },
  // safetensors weight files
  FLOW630: { severity: "error", message: "the safetensors file is {size} bytes long, shorter than its 8-byte header length field" },
  FLOW631: { severity: "error", message: "the header length {length} runs past the end of the file ({available} bytes follow the length field)" },
  FLOW632: { severity: "error", message: "the safetensors header is not valid JSON: {reason}" },
  FLOW633: { severity: "error", message: "the safetensors header must be a JSON object, got {got}" },
  FLOW634: { severity: "error", message: "tensor '{tensor}': {problem}" },
  FLOW635: { severity: "error", message: "tensor '{tensor}': unknown dtype '{dtype}' (known: {known})" },
  FLOW636: { severity: "error", message: "tensor '{tensor}': shape {shape} has an invalid dimension {dim} (dimensions are non-negative integers)" },
  FLOW637: { severity: "error", message: "tensor '{tensor}': data_offsets [{begin}, {end}] lie outside the {size}-byte data section" },
  FLOW638: { severity: "error", message: "tensor '{tensor}': data_offsets [{begin}, {end}] overlap tensor '{other}' at [{otherBegin}, {otherEnd}]" },
  FLOW639: { severity: "error", message: "tensor '{tensor}': data_offsets [{begin}, {end}] hold {got} bytes but shape {shape} of {dtype} needs {expected}" },
  FLOW640: { severity: "error", message: "__metadata__: {problem}" },
  FLOW641: { severity: "error", message: "cannot write tensor '{tensor}': {problem}" },
  // modules, manifests and parameter init
  FLOW650: { severity: "error", message: "this .wasm has {count} '{section}' sections instead of one: it was not built by flowc" },
  FLOW651: { severity: "error", message: "the module's manifest is invalid: {reason}" },
  FLOW652: { severity: "error", message: "not a valid WebAssembly module: {reason}" },
  FLOW653: { severity: "error", message: "the flow needs {need} of memory, more than {limit}: {fix}" },
  FLOW654: { severity: "error", message: "parameter '{tensor}' cannot be initialised: {problem}" },
  FLOW655: { severity: "error", message: "this module was built by flowc {module} (manifest format {format}), but this runtime is flowc {runtime} (format {runtimeFormat}); {fix}" },
  // arrays and options handed to the host
  FLOW660: { severity: "error", message: "expected {expected} parameters, got {got}" },
  FLOW661: { severity: "error", message: "{what} has {got} values, which is not a whole number of rows of {width} (event shape {shape})" },
  FLOW662: { severity: "error", message: "{what} row {row}, column {column} is {value}; {problem}" },
  FLOW663: { severity: "error", message: "context: {problem}" },
  FLOW664: { severity: "error", message: "the flow has no parameters yet: call initialize() or loadWeights() first" },
  FLOW665: { severity: "error", message: "{what} must be {expected}, got {got}" },
  FLOW666: { severity: "error", message: "trainer option {option} must be {expected}, got {got}" },
  // weights against the flow
  FLOW670: { severity: "error", message: "these weights belong to another spec (hash {got}), not to this flow (hash {expected})" },
  FLOW671: { severity: "error", message: "the weight file has no tensor '{tensor}'" },
  FLOW672: { severity: "error", message: "tensor '{tensor}' has shape {got}, expected {expected}" },
  FLOW673: { severity: "error", message: "tensor '{tensor}' holds a non-finite value at index {index}" },
  FLOW674: { severity: "error", message: "optimizer state has {got} moments, the flow has {expected} parameters" },
  // run directories and checkpoints (CLI)
  FLOW680: { severity: "error", message: "{dir} is not a usable flowc run directory: {problem}" },
  FLOW681: { severity: "error", message: "cannot resume from {file}: {problem}" },
};
