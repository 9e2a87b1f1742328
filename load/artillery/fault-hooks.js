// Hooks for load/artillery/faults.yml: a create retried with its Idempotency-Key as a careful
// client would, and every answer appended to $FAULT_RECORD for the audit.
const crypto = require('crypto');
const fs = require('fs');

const RECORD = process.env.FAULT_RECORD;
// How long a client keeps retrying one create: longer than a replica restart and than the
// 10 s lease an interrupted request holds on its key.
const RETRY_FOR_MS = 30000;

function write(entry) {
  fs.appendFileSync(RECORD, JSON.stringify({ t: Date.now(), ...entry }) + '\n');
}

function elapsed(response) {
  const timings = response.timings || {};
  return timings.phases ? timings.phases.total : null;
}

function newIdempotencyKey(context, events, done) {
  context.vars.key = crypto.randomUUID();
  context.vars.firstTry = Date.now();
  context.vars.attempts = 0;
  context.vars.lastStatus = null;
  return done();
}

function record(kind) {
  return (request, response, context, events, done) => {
    write({
      kind,
      status: response.statusCode,
      ms: elapsed(response),
      retryAfter: response.headers['retry-after'] || null,
    });
    return done();
  };
}

function recordCreate(request, response, context, events, done) {
  context.vars.attempts += 1;
  context.vars.lastStatus = response.statusCode;
  context.vars.retryAfter = response.headers['retry-after'];
  let id = null;
  if (response.statusCode === 201) {
    id = JSON.parse(response.body).id;
    context.vars.id = id;
  }
  write({
    kind: 'create',
    key: context.vars.key,
    rut: context.vars.rut,
    attempt: context.vars.attempts,
    status: response.statusCode,
    id,
    ms: elapsed(response),
    retryAfter: context.vars.retryAfter || null,
  });
  return done();
}

// Called after each create attempt: true sends it again.
function retryCreate(context, done) {
  const status = context.vars.lastStatus;
  const retriable = status === 409 || status >= 500;
  const inTime = Date.now() - context.vars.firstTry < RETRY_FOR_MS;
  if (!retriable || !inTime) {
    if (status !== 201) {
      write({ kind: 'create-gave-up', key: context.vars.key, rut: context.vars.rut, status });
    }
    return done(false);
  }
  const wait = Math.min(Number(context.vars.retryAfter) || 1, 5) * 1000;
  return setTimeout(() => done(true), wait);
}

module.exports = {
  newIdempotencyKey,
  recordPage: record('page'),
  recordValidation: record('validation'),
  recordCreate,
  retryCreate,
};
