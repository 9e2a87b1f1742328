// The replica-set set-up script against a simulated set of three members (node --test):
// what it does on a fresh set, after a failover, with a member down or a wiped volume.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

const script = readFileSync(new URL("./init-replica-set.js", import.meta.url), "utf8");
const hosts = [0, 1, 2].map((i) => `mongodb-${i}.mongodb:27017`);

// members: host → { setName, primary, down }. Returns what the script did.
function run(members, users = {}, roles = {}) {
  const did = { initiated: [], writes: [], printed: [] };
  const member = (host) => {
    if (members[host].down) throw new Error(`connect ECONNREFUSED ${host}`);
    return members[host];
  };
  const connect = (uri) => {
    assert.match(uri, /^mongodb:\/\/root:s%2Fcret@/, "authenticates as root, credentials escaped");
    const where = uri.split("@")[1].split("/")[0];
    if (uri.includes("directConnection=true")) {
      const host = where;
      return {
        adminCommand(command) {
          const state = member(host);
          if (command.hello) return { setName: state.setName ?? undefined };
          if (command.replSetInitiate) {
            did.initiated.push({ host, config: command.replSetInitiate });
            for (const h of hosts) Object.assign(members[h], { setName: "rs0", primary: h === host });
            return { ok: 1 };
          }
          throw new Error(`unexpected ${JSON.stringify(command)}`);
        },
      };
    }
    assert.match(uri, /replicaSet=rs0/);
    assert.equal(where, hosts.join(","), "lists every member");
    const primary = () => {
      const found = hosts.find((h) => !members[h].down && members[h].primary);
      if (!found) throw new Error("Server selection timed out: no primary");
      return found;
    };
    return {
      adminCommand: () => (primary(), { ok: 1 }),
      getSiblingDB: (name) => ({
        getUser: (user) => users[`${name}.${user}`] ?? null,
        getRole: (role) => roles[`${name}.${role}`] ?? null,
        createRole: (spec) => did.writes.push({ on: primary(), op: "createRole", db: name, spec }),
        updateRole: (role, spec) => did.writes.push({ on: primary(), op: "updateRole", db: name, role, spec }),
        createUser: (spec) => did.writes.push({ on: primary(), op: "createUser", db: name, spec }),
        updateUser: (user, spec) => did.writes.push({ on: primary(), op: "updateUser", db: name, user, spec }),
      }),
    };
  };
  const env = {
    MONGO_ROOT_USERNAME: "root", MONGO_ROOT_PASSWORD: "s/cret",
    MONGO_APP_USERNAME: "permisos", MONGO_APP_PASSWORD: "app-pass",
    MONGO_READER_USERNAME: "permisos-lector", MONGO_READER_PASSWORD: "reader-pass",
  };
  const sandbox = { connect, print: (line) => did.printed.push(line), sleep: () => {}, process: { env } };
  vm.runInNewContext(script, sandbox);
  // Plain data of this realm, for deepEqual.
  return JSON.parse(JSON.stringify(did));
}

const fresh = () => Object.fromEntries(hosts.map((h) => [h, { setName: null, primary: false }]));

test("a fresh set is initiated on mongodb-0 with all three members, then the roles and users created", () => {
  const did = run(fresh());
  assert.equal(did.initiated.length, 1);
  assert.equal(did.initiated[0].host, hosts[0]);
  assert.deepEqual(did.initiated[0].config.members.map((m) => m.host), hosts);
  assert.deepEqual(did.writes.map((w) => [w.on, w.op, w.db]), [
    [hosts[0], "createRole", "permisos"],
    [hosts[0], "createRole", "permisos"],
    [hosts[0], "createUser", "permisos"],
    [hosts[0], "createUser", "permisos"],
  ]);
  const users = did.writes.filter((w) => w.op === "createUser").map((w) => [w.spec.user, w.spec.pwd, w.spec.roles]);
  assert.deepEqual(users, [
    ["permisos", "app-pass", [{ role: "permisosIssuer", db: "permisos" }]],
    ["permisos-lector", "reader-pass", [{ role: "permisosValidator", db: "permisos" }]],
  ]);
});

// role → collection → actions, from the writes of a run.
function privileges(did) {
  const granted = {};
  for (const w of did.writes.filter((w) => w.op === "createRole")) {
    assert.deepEqual(w.spec.roles, [], "inherits no built-in role (readWrite would grant every write)");
    granted[w.spec.role] = Object.fromEntries(
      w.spec.privileges.map((p) => (assert.equal(p.resource.db, "permisos"), [p.resource.collection, p.actions])),
    );
  }
  return granted;
}

const writes = ["insert", "update", "remove"];

test("the issuers may only append to the audit log and the phase schedule, and the validators write nothing", () => {
  const { permisosIssuer: issuer, permisosValidator: validator } = privileges(run(fresh()));
  const appended = ["audit_log", "phase_changes"];
  assert.deepEqual(Object.keys(issuer).sort(), ["audit_log", "idempotency_keys", "operator_tokens", "permit_statistics", "permits", "phase_changes", "weekly_quotas"]);
  for (const [collection, actions] of Object.entries(issuer)) {
    const expected = appended.includes(collection) ? ["find", "insert"] : ["find", ...writes];
    assert.deepEqual(actions.filter((a) => ["find", ...writes].includes(a)), expected, collection);
  }
  assert.deepEqual(Object.keys(validator).sort(), Object.keys(issuer).sort(), "it ensures the same indexes");
  for (const [collection, actions] of Object.entries(validator)) {
    assert.deepEqual(actions.filter((a) => writes.includes(a)), [], `${collection}: no write`);
    assert.equal(actions.includes("find"), collection === "permits", `${collection}: reads permits only`);
    assert.ok(actions.includes("createIndex"), `${collection}: ensures its indexes`);
  }
});

test("run again, it updates the roles and users it finds instead of failing", () => {
  const members = fresh();
  for (const h of hosts) Object.assign(members[h], { setName: "rs0", primary: h === hosts[0] });
  const did = run(
    members,
    { "permisos.permisos": {}, "permisos.permisos-lector": {} },
    { "permisos.permisosIssuer": {}, "permisos.permisosValidator": {} },
  );
  assert.deepEqual(did.writes.map((w) => w.op), ["updateRole", "updateRole", "updateUser", "updateUser"]);
});

test("after a failover it initiates nothing and writes the user on the new primary", () => {
  const members = fresh();
  for (const h of hosts) Object.assign(members[h], { setName: "rs0", primary: h === hosts[2] });
  const did = run(members, { "permisos.permisos": { user: "permisos" } });
  assert.deepEqual(did.initiated, []);
  assert.ok(did.writes.every((w) => w.on === hosts[2]), "every write on the new primary");
  const issuer = did.writes.find((w) => w.user === "permisos");
  assert.equal(issuer.op, "updateUser");
  assert.equal(issuer.spec.pwd, "app-pass");
});

test("a member with a new, empty volume is left to the set: nothing is initiated", () => {
  const members = fresh();
  Object.assign(members[hosts[1]], { setName: "rs0", primary: true });
  Object.assign(members[hosts[2]], { setName: "rs0" });
  const did = run(members);
  assert.deepEqual(did.initiated, []);
  assert.equal(did.writes[0].on, hosts[1]);
});

test("before initiation, a member that does not answer stops the run (the Job retries)", () => {
  const members = fresh();
  members[hosts[2]].down = true;
  assert.throws(() => run(members), /ECONNREFUSED mongodb-2/);
  assert.equal(members[hosts[0]].setName, null, "nothing was initiated");
});

test("members of another replica set are refused, not joined", () => {
  const members = fresh();
  members[hosts[0]].setName = "other";
  assert.throws(() => run(members), /members disagree/);
});

test("with no primary for two minutes it gives up with the reason", () => {
  const members = fresh();
  for (const h of hosts) members[h].setName = "rs0";
  assert.throws(() => run(members), /no primary after 2 minutes: Server selection timed out/);
});
