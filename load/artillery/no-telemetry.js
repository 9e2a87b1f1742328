// Preloaded into artillery (NODE_OPTIONS=--require). Artillery 2.0.21 sends one telemetry
// event even with ARTILLERY_DISABLE_TELEMETRY set, and on a closed network its client
// retries for ~12 s before the process may exit. Hand it a client that sends nothing.
const Module = require('module');

class SilentPostHog {
  capture() {}
  shutdown() {}
  async shutdownAsync() {}
}

const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'posthog-node') {
    return { PostHog: SilentPostHog };
  }
  return load.call(this, request, ...rest);
};
