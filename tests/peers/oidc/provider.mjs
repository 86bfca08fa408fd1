// The OpenID Provider of DutyDesk's sign-in tests: panva's oidc-provider (certified) with one
// static client and a few test accounts whose "groups" claim the role mapping reads.
//
//   node provider.mjs <port> <redirect_uri> <post_logout_redirect_uri> [accounts.json]
//                     [backchannel_logout_uri]
//
// accounts.json ({"login": {"email": …, "name": …, "groups": […]}}) is read at every sign-in,
// so a test can move someone out of a group; without it the built-in accounts below are used.
// Listens on 127.0.0.1:<port> (issuer http://127.0.0.1:<port>) and prints "ready <issuer>" once
// it accepts connections. The development interactions accept any login with any password:
// the account is the login typed.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, redirectUri, postLogoutUri, accountsFile, backchannelUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = {
  ivan: { email: 'ivan.oidc@corp.example', name: 'Ivan Oidc', groups: ['dc-duty'], locale: 'uk-UA' },
  olena: { email: 'olena.oidc@corp.example', name: 'Olena Oidc', groups: ['staff', 'DC-Leads'] },
  stepan: { email: 'stepan.oidc@corp.example', name: 'Stepan Oidc', groups: ['staff'] },
  // the email of a local break-glass admin: must never take that account over
  mallory: { email: 'breakglass@dc.example', name: 'Mallory', groups: ['dc-leads'] },
  unverified: { email: 'someone@corp.example', name: 'Unverified', groups: ['dc-duty'],
                email_verified: false },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'dutydesk',
    client_secret: 'dutydesk-test-client-secret',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...(backchannelUri ? { backchannel_logout_uri: backchannelUri,
                           backchannel_logout_session_required: false } : {}),
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'locale'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false, // the claims in the ID token, as Keycloak and Entra put groups
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  cookies: { keys: ['dutydesk-tests-cookie-key'] },
  // the provider refuses to call special-use addresses (SSRF protection); the tests' DutyDesk
  // hears back-channel logouts on loopback, so its guard is lifted here, in tests only
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  async findAccount(ctx, id) {
    const accounts = accountsFile ? JSON.parse(readFileSync(accountsFile, 'utf8')) : ACCOUNTS;
    const known = Object.hasOwn(accounts, id) ? accounts[id] : undefined;
    if (!known) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...known };
      },
    };
  },
});

provider.on('backchannel.error', (ctx, err) => console.log(`backchannel error: ${err.message} ${err.cause ? err.cause.message || err.cause.code : ""}`));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
