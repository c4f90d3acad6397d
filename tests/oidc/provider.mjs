// A real OpenID provider for the identity tests: oidc-provider (OpenID-certified),
// on a free loopback port, issuing JWT access tokens (RS256, audience "hysope")
// by client credentials, with a `roles` claim per client:
//   hysope-user, hysope-user2 -> ["user"]; hysope-developer -> ["developer"];
//   hysope-operator -> ["operator"]; hysope-norole -> no roles claim.
// Each client's secret is "secret-" and its id. Prints {"issuer": URL} on its first
// line once it listens, then serves until killed.
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

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: Object.keys(ROLES).map((id) => ({
      client_id: id,
      client_secret: `secret-${id}`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
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
      const roles = ROLES[token.clientId];
      return roles ? { roles } : undefined;
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
