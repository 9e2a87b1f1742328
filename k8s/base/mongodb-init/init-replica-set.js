// Run by the mongodb-init Job with mongosh, as root, against mongodb-0. Idempotent: every
// step first looks whether it is already done, so the Job can run again at any time.
const members = [0, 1, 2].map((i) => ({ _id: i, host: `mongodb-${i}.mongodb:27017` }));

let initiated = false;
try {
  initiated = rs.status().ok === 1;
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
}
if (!initiated) {
  rs.initiate({ _id: "rs0", members });
  print("replica set rs0 initiated");
}

// Wait for a primary before writing users.
for (let i = 0; i < 120 && !db.hello().isWritablePrimary; i++) sleep(1000);
if (!db.hello().isWritablePrimary) throw new Error("no primary after 120 s");

const app = db.getSiblingDB("permisos");
const user = process.env.MONGO_APP_USERNAME;
const password = process.env.MONGO_APP_PASSWORD;
if (app.getUser(user) === null) {
  app.createUser({ user, pwd: password, roles: [{ role: "readWrite", db: "permisos" }] });
  print(`user ${user} created`);
} else {
  app.updateUser(user, { pwd: password, roles: [{ role: "readWrite", db: "permisos" }] });
}
