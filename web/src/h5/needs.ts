// The needs a person follows, as the needs API lists them, sorted by their part in each.
import type { components } from "@/api/schema/needs";

export type Need = components["schemas"]["NeedPublic"];

export function isMine(need: Need, sub: string): boolean {
  return need.requester_id === sub || need.posted_by === sub;
}

export function myActiveClaim(need: Need, sub: string) {
  return need.claims.find(
    (c) => c.status === "active" && ((c.volunteer_ids ?? []).includes(sub) || c.claimed_by === sub),
  );
}

export function hasClaimed(need: Need, sub: string): boolean {
  return need.claims.some((c) => (c.volunteer_ids ?? []).includes(sub) || c.claimed_by === sub);
}

/** Due date (a YYYY-MM-DD picked on the phone) as the end of that day in China's time zone. */
export function dueAt(date: string[] | null): string | undefined {
  if (!date || date.length !== 3) return undefined;
  return `${date[0]}-${date[1]}-${date[2]}T23:59:59+08:00`;
}
