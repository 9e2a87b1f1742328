// Run by the mongodb-init Job as `mongosh --nodb`: it makes its own connections. Safe to run
// again at any time, whichever member is primary: it initiates the replica set only when
// every member answers and none has a configuration yet, then writes the services' roles
// and users through the replica set, so the driver finds the primary wherever it is.
const hosts = [0, 1, 2].map((i) => `mongodb-${i}.mongodb:27017`);
const env = process.env;
const credentials = `${encodeURIComponent(env.MONGO_ROOT_USERNAME)}:${encodeURIComponent(env.MONGO_ROOT_PASSWORD)}`;
const uri = (where, options) => `mongodb://${credentials}@${where}/admin?authSource=admin&${options}`;

// Each member's own view: its replica set's name, or null before initiation (or while a
// member with a new volume waits for the set to bring it back in).
function setNameOf(host) {
  const member = connect(uri(host, "directConnection=true&serverSelectionTimeoutMS=5000"));
  return member.adminCommand({ hello: 1 }).setName ?? null;
}

const names = hosts.map(setNameOf);
if (names.every((name) => name === null)) {
  const first = connect(uri(hosts[0], "directConnection=true"));
  first.adminCommand({
    replSetInitiate: { _id: "rs0", members: hosts.map((host, i) => ({ _id: i, host })) },
  });
  print("replica set rs0 initiated");
} else if (names.some((name) => name !== null && name !== "rs0")) {
  throw new Error(`members disagree on their replica set: ${JSON.stringify(names)}`);
}

// Through the replica set: the driver sends writes to whichever member is primary.
let set = null;
for (let attempt = 1; set === null; attempt++) {
  try {
    set = connect(uri(hosts.join(","), "replicaSet=rs0&serverSelectionTimeoutMS=5000"));
    set.adminCommand({ ping: 1 });
  } catch (e) {
    set = null;
    if (attempt >= 24) throw new Error(`no primary after 2 minutes: ${e.message}`);
    sleep(5000);
  }
}

// Least privilege, per collection: the issuers read and write permits and their ledgers but
// may only append to the audit log and the published Paso a Paso schedule (no update, no
// remove: an operator's trail, and the rules a permit was decided under, cannot be
// rewritten through the services); the validators only read (and create the indexes every
// service ensures at start, which changes no data).
const app = set.getSiblingDB("permisos");
const written = ["permits", "weekly_quotas", "idempotency_keys", "permit_statistics", "operator_tokens"];
const appended = ["audit_log", "phase_changes"];
const ensured = ["createIndex", "createCollection", "listIndexes"];
const on = (collection, actions) => ({ resource: { db: "permisos", collection }, actions });
const roles = {
  permisosIssuer: [
    ...written.map((c) => on(c, ["find", "insert", "update", "remove", ...ensured])),
    ...appended.map((c) => on(c, ["find", "insert", ...ensured])),
  ],
  permisosValidator: [...written, ...appended].map((c) => on(c, c === "permits" ? ["find", ...ensured] : ensured)),
};
for (const [role, privileges] of Object.entries(roles)) {
  if (app.getRole(role) === null) {
    app.createRole({ role, privileges, roles: [] });
    print(`role ${role} created`);
  } else {
    app.updateRole(role, { privileges, roles: [] });
    print(`role ${role} updated`);
  }
}

const users = [
  [env.MONGO_APP_USERNAME, env.MONGO_APP_PASSWORD, "permisosIssuer"],
  [env.MONGO_READER_USERNAME, env.MONGO_READER_PASSWORD, "permisosValidator"],
];
for (const [user, pwd, role] of users) {
  const granted = [{ role, db: "permisos" }];
  if (app.getUser(user) === null) {
    app.createUser({ user, pwd, roles: granted });
    print(`user ${user} created`);
  } else {
    app.updateUser(user, { pwd, roles: granted });
    print(`user ${user} updated`);
  }
}
