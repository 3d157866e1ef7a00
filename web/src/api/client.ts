// Typed clients of every service behind the gateway (/api/<service>/…), generated from the
// services' OpenAPI exports: a path, body or query the API does not have fails type-checking.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as IdentityPaths } from "./schema/identity";
import type { paths as MetricsPaths } from "./schema/metrics";
import type { paths as NeedsPaths } from "./schema/needs";
import type { paths as NotifyPaths } from "./schema/notify";
import type { paths as VolunteersPaths } from "./schema/volunteers";
import { accessToken } from "./session";

export const API_BASE = "/api";

const bearer: Middleware = {
  onRequest({ request }) {
    const token = accessToken();
    if (token && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${token}`);
    }
    return request;
  },
};

function client<P extends {}>(service: string) {
  const c = createClient<P>({ baseUrl: `${API_BASE}/${service}` });
  c.use(bearer);
  return c;
}

export const identity = client<IdentityPaths>("identity");
export const needs = client<NeedsPaths>("needs");
export const volunteers = client<VolunteersPaths>("volunteers");
export const notify = client<NotifyPaths>("notify");
export const metrics = client<MetricsPaths>("metrics");

/** A multipart body of one file (the API's `file` field), for an openapi-fetch call:
 * `needs.PUT(path, { params, ...fileBody(blob, "photo.jpg") })`. */
export function fileBody(file: Blob, name?: string) {
  return {
    body: { file: file as unknown as string },
    bodySerializer: (body: { file: string }) => {
      const data = new FormData();
      if (name) data.append("file", body.file as unknown as Blob, name);
      else data.append("file", body.file as unknown as Blob);
      return data;
    },
  };
}

/** The message to show for an error body: the API's own words (Chinese first), as they are. */
export function errorMessage(error: unknown, fallback = "操作失败 / Failed"): string {
  const body = error as { error?: { message?: string } } | undefined;
  return body?.error?.message || fallback;
}

/** A refused call: the API's message (shown as it is), its status and details. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> | null,
  ) {
    super(message);
  }
}

/** Throws the API's message when a call failed, else gives its data. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    const details = (error as { error?: { details?: Record<string, unknown> } } | undefined)?.error?.details;
    throw new ApiFailure(errorMessage(error), response.status, details ?? null);
  }
  return data as T;
}
