// Signs in to a running genesys-sim as an agent through the real PKCE flow
// (sign-in form, code, verifier) and prints the user access token.
// Usage: node scripts/sim-user-token.mjs http://127.0.0.1:8089 [userId]
import { createHash, randomBytes } from "node:crypto";

const [base, userId = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01"] = process.argv.slice(2);
if (!base) throw new Error("usage: sim-user-token.mjs <sim base URL> [userId]");
const b64url = (buf) => buf.toString("base64url");
const verifier = b64url(randomBytes(48));
const redirectUri = "http://127.0.0.1:8080/cb";
const form = new URLSearchParams({
  client_id: "sim-browser", redirect_uri: redirectUri, response_type: "code", state: "s",
  code_challenge: b64url(createHash("sha256").update(verifier).digest()), code_challenge_method: "S256", userId,
});
const signIn = await fetch(`${base}/oauth/authorize`, { method: "POST", body: form, redirect: "manual" });
const code = new URL(signIn.headers.get("location")).searchParams.get("code");
if (!code) throw new Error(`sign-in failed: ${signIn.status} ${signIn.headers.get("location")}`);
const token = await fetch(`${base}/oauth/token`, {
  method: "POST",
  body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "sim-browser", redirect_uri: redirectUri }),
});
const body = await token.json();
if (!body.access_token) throw new Error(`token exchange failed: ${JSON.stringify(body)}`);
process.stdout.write(body.access_token);
