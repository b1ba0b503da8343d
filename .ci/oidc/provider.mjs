// The authorization server of tollgate's OAuth tests: oidc-provider (OpenID
// Certified), configured for tollgate as a resource server. Listens on
// loopback only; prints "oidc-provider listening on <issuer>" when ready.
//
//   OIDC_RESOURCE  the resource URIs tokens are issued for (tollgate's oauth.resource),
//                  separated by spaces
//   OIDC_PORT      port to listen on (default 0: a free one)
//
// Enabled beyond the defaults: client credentials, open dynamic client
// registration, and resource indicators whose access tokens are JWTs
// (RFC 9068; ES256, or RS256 for an https resource) for each OIDC_RESOURCE. The development login form
// (devInteractions) accepts any login; the tests drive it over HTTP.
// A pre-registered confidential client `svc-1` (secret `svc-1-secret`) may
// use client credentials. Keys are generated at every start and held in memory.
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const resources = (process.env.OIDC_RESOURCE || '').split(' ').filter(Boolean);
if (resources.length === 0) {
  console.error('OIDC_RESOURCE is required');
  process.exit(2);
}
const SCOPES = ['tollgate:read', 'tollgate:operate', 'tollgate:audit', 'tollgate:admin'];

function signingKey(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const server = http.createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: {
      keys: [
        signingKey('ec', { namedCurve: 'P-256' }, 'es256-1', 'ES256'),
        signingKey('rsa', { modulusLength: 2048 }, 'rs256-1', 'RS256'),
      ],
    },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'offline_access', ...SCOPES],
    clients: [
      {
        client_id: 'svc-1',
        client_secret: 'svc-1-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    clientDefaults: { application_type: 'native' },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => oneOf || resources[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (!resources.includes(indicator)) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: SCOPES.join(' '),
            audience: indicator,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            // ES256 for http resources, RS256 for https ones: the tests see both algorithms.
            jwt: { sign: { alg: indicator.startsWith('https:') ? 'RS256' : 'ES256' } },
          };
        },
      },
    },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    pkce: { required: () => true },
  });
  server.on('request', provider.callback());
  console.log(`oidc-provider listening on ${issuer}`);
});
