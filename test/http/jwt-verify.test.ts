import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseServeArgs } from "../../src/cli/args.js";
import { Authenticator } from "../../src/http/access/authenticate.js";
import { JwtVerifier } from "../../src/http/access/jwt.js";

/** A JWKS served on loopback, as an identity provider serves its `jwks.json`. */
let server: Server;
let jwksUrl: string;
let signer: CryptoKey;
let stranger: CryptoKey;
let jwksHits = 0;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256");
  signer = pair.privateKey;
  stranger = (await generateKeyPair("RS256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  server = createServer((_req, res) => {
    jwksHits++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const sign = (
  key: CryptoKey,
  claims: { iss?: string; aud?: string; exp?: number; sub?: string },
) => {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ threads: ["shared:"] })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 300);
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  if (claims.iss) jwt = jwt.setIssuer(claims.iss);
  if (claims.aud) jwt = jwt.setAudience(claims.aud);
  return jwt.sign(key);
};

describe("JWT verification", () => {
  it("verifies against a JWKS URL with issuer and audience checks", async () => {
    const v = new JwtVerifier({ jwksUrl, issuer: "https://idp.test", audience: "threadline" });
    const good = await sign(signer, { sub: "alice", iss: "https://idp.test", aud: "threadline" });
    expect(await v.verify(good)).toMatchObject({
      kind: "user",
      id: "alice",
      threads: ["shared:"],
    });
    expect(jwksHits).toBeGreaterThan(0);
    const cases: [string, Promise<string>, RegExp][] = [
      ["wrong issuer", sign(signer, { sub: "a", iss: "https://evil", aud: "threadline" }), /iss/],
      ["wrong audience", sign(signer, { sub: "a", iss: "https://idp.test", aud: "x" }), /aud/],
      [
        "another key",
        sign(stranger, { sub: "a", iss: "https://idp.test", aud: "threadline" }),
        /signature/,
      ],
      ["no sub", sign(signer, { iss: "https://idp.test", aud: "threadline" }), /sub/],
      [
        "expired",
        sign(signer, {
          sub: "a",
          iss: "https://idp.test",
          aud: "threadline",
          exp: Math.floor(Date.now() / 1000) - 120,
        }),
        /expired/,
      ],
    ];
    for (const [what, token, message] of cases) {
      const error = await v.verify(await token).catch((e: unknown) => e);
      expect(error, what).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
      expect((error as Error).message, what).toMatch(message);
    }
  });

  it("refuses a configuration it cannot use", () => {
    expect(() => new JwtVerifier({})).toThrow(/exactly one/);
    expect(() => new JwtVerifier({ secret: "short" })).toThrow(/32 characters/);
    expect(() => new JwtVerifier({ jwksUrl: "not a url" })).toThrow(/not a URL/);
  });

  it("a follow URL expires after its lifetime (checked when a follow starts)", async () => {
    let now = Date.now();
    const auth = new Authenticator({ token: "t0ken", followUrlTtlMs: 60_000, now: () => now });
    const { token } = await auth.mintFollowToken({ kind: "token", id: "token" }, "t");
    expect(await auth.principalOf(token)).toMatchObject({ kind: "token", followOnly: "t" });
    now += 61_000;
    await expect(auth.principalOf(token)).rejects.toThrow(/follow URL expired/);
    // Another server's key: not valid here.
    const other = new Authenticator({ token: "another-token" });
    await expect(other.principalOf(token)).rejects.toThrow(/signature/);
  });

  it("the CLI takes JWT settings from flags or the environment", () => {
    expect(
      parseServeArgs(
        [
          "--jwks-url",
          jwksUrl,
          "--jwt-issuer",
          "a,b",
          "--jwt-audience",
          "api",
          "--jwt-clock-skew",
          "5",
        ],
        {},
      ).jwt,
    ).toEqual({ jwksUrl, issuer: ["a", "b"], audience: ["api"], clockToleranceSec: 5 });
    expect(parseServeArgs([], { THREADLINE_JWT_SECRET: "s".repeat(32) }).jwt).toEqual({
      secret: "s".repeat(32),
    });
    // JWT auth counts as auth for a non-loopback bind.
    expect(parseServeArgs(["--host", "0.0.0.0", "--jwks-url", jwksUrl], {}).host).toBe("0.0.0.0");
    expect(() => parseServeArgs(["--jwt-issuer", "a"], {})).toThrow(/need --jwt-secret/);
    expect(() => parseServeArgs(["--jwt-secret", "x", "--jwks-url", jwksUrl], {})).toThrow(
      /not both/,
    );
    expect(() => parseServeArgs(["--jwt-secret", "x", "--jwt-clock-skew", "-1"], {})).toThrow(
      /clock-skew/,
    );
  });
});
