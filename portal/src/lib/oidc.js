// Signing in with the server's OIDC provider from the page: the authorization
// code flow with PKCE (RFC 7636, S256) for a public client, as OAuth 2.0 for
// browser-based apps asks. The pure steps are here (tested); the page keeps the
// verifier and state in sessionStorage between the two halves of the flow.

/// `bytes` random bytes as base64url without padding.
export function randomToken(bytes = 32) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return base64url(a);
}

export function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/// The S256 code challenge of `verifier`.
export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/// The provider's endpoints from its discovery document, checked: the document
/// must be the issuer's own (OpenID Connect Discovery 4.3), and the endpoints on
/// its origin (the portal's CSP lets the page reach that origin only).
export function endpoints(discovery, issuer) {
  if (!discovery || discovery.issuer !== issuer) {
    throw new Error(`the discovery document is not of ${issuer} (it names ${discovery?.issuer})`);
  }
  const origin = new URL(issuer).origin;
  const out = {};
  for (const key of ["authorization_endpoint", "token_endpoint"]) {
    const value = discovery[key];
    let url;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`the provider's ${key} is not a URL: ${value}`);
    }
    if (url.origin !== origin) throw new Error(`the provider's ${key} (${value}) is not on ${origin}`);
    out[key] = url.href;
  }
  if (discovery.code_challenge_methods_supported && !discovery.code_challenge_methods_supported.includes("S256")) {
    throw new Error("the provider does not take S256 code challenges (PKCE)");
  }
  return out;
}

/// The URL the browser is sent to for signing in.
export function authorizeUrl(authorizationEndpoint, { clientId, redirectUri, scope, state, nonce, challenge }) {
  const url = new URL(authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  return url.href;
}

/// What the provider sent back to the redirect URI: `{ code }`, or `{ error }`
/// (the provider's refusal, or a state that is not the one this tab sent: a
/// forged or replayed answer).
export function callback(search, expectedState) {
  const q = new URLSearchParams(search);
  if (q.get("error")) return { error: [q.get("error"), q.get("error_description")].filter(Boolean).join(": ") };
  if (!expectedState || q.get("state") !== expectedState) return { error: "the answer does not match this tab's sign-in (state)" };
  const code = q.get("code");
  if (!code) return { error: "the answer carries no code" };
  return { code };
}

/// The token request's form body.
export function tokenRequest({ code, redirectUri, clientId, verifier }) {
  return new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
  });
}
