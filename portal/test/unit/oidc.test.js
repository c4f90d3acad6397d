import { test } from "node:test";
import assert from "node:assert/strict";
import { authorizeUrl, base64url, callback, challengeOf, endpoints, randomToken, tokenRequest } from "../../src/lib/oidc.js";

test("the S256 challenge is RFC 7636's (appendix B)", async () => {
  assert.equal(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  assert.equal(base64url(new Uint8Array([251, 255])), "-_8");
  const a = randomToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, randomToken());
});

test("the discovery document must be the issuer's, its endpoints on its origin", () => {
  const issuer = "https://id.example.org/realms/hydro";
  const good = {
    issuer,
    authorization_endpoint: "https://id.example.org/realms/hydro/auth",
    token_endpoint: "https://id.example.org/realms/hydro/token",
    code_challenge_methods_supported: ["plain", "S256"],
  };
  assert.deepEqual(endpoints(good, issuer), {
    authorization_endpoint: good.authorization_endpoint,
    token_endpoint: good.token_endpoint,
  });
  assert.throws(() => endpoints({ ...good, issuer: "https://evil.example" }, issuer), /not of https:\/\/id.example.org/);
  assert.throws(() => endpoints({ ...good, token_endpoint: "https://evil.example/token" }, issuer), /token_endpoint .* is not on https:\/\/id.example.org/);
  assert.throws(() => endpoints({ ...good, authorization_endpoint: "not a url" }, issuer), /not a URL/);
  assert.throws(() => endpoints({ ...good, code_challenge_methods_supported: ["plain"] }, issuer), /S256/);
  assert.throws(() => endpoints(null, issuer), /not of/);
});

test("the authorization URL and the token request carry PKCE", () => {
  const url = new URL(authorizeUrl("https://id.example.org/auth?kc_idp_hint=x", {
    clientId: "hysope-portal", redirectUri: "https://hysope.example.org/portal/signed-in", scope: "openid roles",
    state: "s1", nonce: "n1", challenge: "c1",
  }));
  assert.equal(url.origin + url.pathname, "https://id.example.org/auth");
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    response_type: "code", client_id: "hysope-portal", redirect_uri: "https://hysope.example.org/portal/signed-in",
    scope: "openid roles", state: "s1", nonce: "n1", code_challenge: "c1", code_challenge_method: "S256",
  });
  assert.equal(tokenRequest({ code: "a b", redirectUri: "https://h/portal/signed-in", clientId: "p", verifier: "v" }).toString(),
    "grant_type=authorization_code&code=a+b&redirect_uri=https%3A%2F%2Fh%2Fportal%2Fsigned-in&client_id=p&code_verifier=v");
});

test("an answer is taken only with this tab's state", () => {
  assert.deepEqual(callback("?code=abc&state=s1", "s1"), { code: "abc" });
  assert.match(callback("?code=abc&state=s2", "s1").error, /state/);
  assert.match(callback("?code=abc&state=s1", null).error, /state/);
  assert.deepEqual(callback("?error=access_denied&error_description=no+consent&state=s1", "s1"), { error: "access_denied: no consent" });
  assert.match(callback("?state=s1", "s1").error, /no code/);
});
