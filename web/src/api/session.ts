// The signed-in person's session: tokens from the identity service, kept in localStorage.
import { reactive } from "vue";

export interface Claims {
  sub: string;
  role: string;
  scope: string;
  exp?: number;
}

export interface Session {
  access_token: string;
  refresh_token?: string | null;
  phone?: string;
  roles?: { role: string; scope: string; sub?: string; scope_name?: string }[];
}

const KEY = "tongxin.session";

/** The claims of a JWT (the payload, unverified: the services verify it). */
export function decodeClaims(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const body = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Claims>;
    if (!body.sub || !body.role || !body.scope) return null;
    return { sub: body.sub, role: body.role, scope: body.scope, exp: body.exp };
  } catch {
    return null;
  }
}

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export const session = reactive<{ current: Session | null }>({ current: load() });

export function signIn(s: Session): void {
  session.current = s;
  localStorage.setItem(KEY, JSON.stringify(s));
}

export function signOut(): void {
  session.current = null;
  localStorage.removeItem(KEY);
}

export function claims(): Claims | null {
  return session.current ? decodeClaims(session.current.access_token) : null;
}

export function accessToken(): string | null {
  return session.current?.access_token ?? null;
}

export const ADMIN_ROLES = ["community_admin", "street_admin", "district_admin", "operator"];
