# workerd configuration for worker.js. In this directory:
#   npx flowc bundle RUN_DIR -o model.wasm
#   npx esbuild worker.js --bundle --format=esm --external:./model.wasm --outfile=dist/worker.js
#   npx workerd serve config.capnp        (listens on 127.0.0.1:8787)
# dist/worker.js is worker.js with flowc/runtime bundled in by esbuild;
# model.wasm is a bundled module (`flowc bundle DIR -o model.wasm`), handed
# to the Worker as a precompiled WebAssembly.Module.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .flowWorker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const flowWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    (name = "model.wasm", wasm = embed "model.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
