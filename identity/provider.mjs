// A real OpenID Connect provider for tests and `make run`: panva's oidc-provider (OpenID
// Certified), configured to answer as ClaveÚnica does. Its citizens (identity/citizens.json)
// sign in on its development login page with their RUN as the login and any password;
// the userinfo endpoint returns ClaveÚnica's shape for the scopes `run` and `name`:
//   {"sub": "...", "RolUnico": {"numero": 12345678, "DV": "5", "tipo": "RUN"},
//    "name": {"nombres": ["Juan", "Pablo"], "apellidos": ["Pérez", "Soto"]}}
// and the ID token carries only `sub` (and the protocol's claims), as ClaveÚnica's does.
// Its operators (identity/operators.json) are people of the same shape with a `roles`
// claim (scope `roles`): what an institutional provider adds for the operators' console.
//
// Environment:
//   OIDC_PORT           port on 127.0.0.1 (0: any free one)
//   OIDC_CLIENT_ID      the one client, confidential (client_secret_basic), PKCE required
//   OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS  comma-separated redirect URIs registered for it
//   OIDC_KEY_FILE       optional: a private JWK (JSON) to sign with; otherwise a new
//                       RSA key for this run (a restart with another file is a rotation)
// Prints one JSON line once it listens: {"issuer": "http://127.0.0.1:PORT"}.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};

const people = (file) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8'));
const byLogin = new Map([...people('./citizens.json'), ...people('./operators.json')].map((c) => [c.login, c]));

function signingKey() {
  if (process.env.OIDC_KEY_FILE) return JSON.parse(readFileSync(process.env.OIDC_KEY_FILE, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

const server = createServer();
server.listen(Number(process.env.OIDC_PORT ?? 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: env('OIDC_REDIRECT_URIS').split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [signingKey()] },
    pkce: { required: () => true },
    scopes: ['openid', 'run', 'name', 'roles'],
    claims: { openid: ['sub'], run: ['RolUnico'], name: ['name'], roles: ['roles'] },
    // Keys for the provider's own interaction cookies, new each run.
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(_ctx, id) {
      const citizen = byLogin.get(id);
      if (!citizen) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: citizen.sub, RolUnico: citizen.RolUnico, name: citizen.name, roles: citizen.roles };
        },
      };
    },
  });
  // The development login page takes any login: only ours are accounts.
  provider.on('server_error', (_ctx, error) => console.error('server_error', error.message));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
