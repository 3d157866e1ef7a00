// Sign-in by phone and SMS code (手机号 + 验证码) at the identity service; both apps use it.
import { identity, ok } from "./client";
import { signIn, type Session } from "./session";

export async function requestCode(phone: string): Promise<void> {
  await ok(identity.POST("/v1/auth/otp", { body: { phone } }));
}

/** Signs in; `role: "resident", scope` also chooses the community (a first sign-in of a
 * resident is refused with 422 on `scope` until one is chosen; the code stays usable). */
export async function signInWithCode(
  phone: string,
  code: string,
  choice: { role?: string; scope?: string } = {},
): Promise<Session> {
  const tok = await ok(identity.POST("/v1/auth/token", { body: { phone, code, ...choice } }));
  const s = { ...tok, phone };
  signIn(s);
  return s;
}

/** The same person, acting as another of their roles (or as a resident of a community). */
export async function switchRole(current: Session, role: string, scope: string): Promise<Session> {
  const tok = await ok(
    identity.POST("/v1/auth/token", { body: { refresh_token: current.refresh_token, role, scope } }),
  );
  const s = { ...tok, phone: current.phone };
  signIn(s);
  return s;
}
