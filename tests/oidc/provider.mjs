// A real OpenID provider for the identity tests: oidc-provider (OpenID-certified),
// on a free loopback port, issuing JWT access tokens (RS256, audience "hysope")
// by client credentials, with a `roles` claim per client:
//   hysope-user, hysope-user2 -> ["user"]; hysope-developer -> ["developer"];
//   hysope-operator -> ["operator"]; hysope-norole -> no roles claim.
// Each client's secret is "secret-" and its id. And a public client for the web
// portal, "hysope-portal": authorization code with PKCE, no secret, redirected to
// http://127.0.0.1:ANY-PORT/portal/signed-in (a loopback redirect of a native
// client, RFC 8252 7.3: the test server's port is known only once it runs). People
// sign in through the provider's own login and consent pages (its development
// interactions: any password); an account's roles follow its name: "operator-..."
// -> ["operator"], "developer-..." -> ["developer"], any other -> ["user"].
// Prints {"issuer": URL} on its first line once it listens, then serves until
// killed.
//
// Usage: node tests/oidc/provider.mjs   (after `npm install` in tests/oidc)
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const ROLES = {
  'hysope-user': ['user'],
  'hysope-user2': ['user'],
  'hysope-developer': ['developer'],
  'hysope-operator': ['operator'],
  'hysope-norole': null,
};

const PORTAL = 'hysope-portal';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      ...Object.keys(ROLES).map((id) => ({
        client_id: id,
        client_secret: `secret-${id}`,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      })),
      {
        client_id: PORTAL,
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/portal/signed-in'],
        token_endpoint_auth_method: 'none',
      },
    ],
    // The portal's page, on any loopback port, may call the token endpoint.
    clientBasedCORS: (_ctx, origin, client) => client.clientId === PORTAL && /^http:\/\/127\.0\.0\.1:\d+$/.test(origin),
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://hysope.test',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: '',
          audience: 'hysope',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => {
      if (token.accountId) {
        const role = /^(operator|developer)-/.exec(token.accountId)?.[1] || 'user';
        return { roles: [role] };
      }
      const roles = ROLES[token.clientId];
      return roles ? { roles } : undefined;
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
