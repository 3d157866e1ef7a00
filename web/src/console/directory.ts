// What the console's forms choose from, by name: the units and communities of the signed-in
// admin's scope, and the people (appointees, volunteers) the records name by id.
import { reactive } from "vue";
import { identity, volunteers } from "@/api/client";

export interface Unit {
  path: string;
  name: string;
  level: string;
}

async function unit(path: string) {
  const { data } = await volunteers.GET("/v1/orgs/{path}", { params: { path: { path } } });
  return data ?? null;
}

/** The scope's unit and the units below it, down to communities (and their grids). */
export async function unitsIn(scope: string): Promise<Unit[]> {
  const out: Unit[] = [];
  let level = [scope];
  while (level.length) {
    const found = (await Promise.all(level.map(unit))).filter((u) => u !== null);
    out.push(...found.map((u) => ({ path: u.path, name: u.name, level: u.level })));
    level = found.filter((u) => u.level !== "community" && u.level !== "grid").flatMap((u) => u.children.map((c) => c.path));
  }
  return out;
}

export async function communitiesIn(scope: string): Promise<Unit[]> {
  return (await unitsIn(scope)).filter((u) => u.level === "community");
}

const people = reactive<Record<string, string>>({});

/** Names of the scope's appointees and volunteers (whole: the admin is in scope). */
export async function loadPeople(scope: string): Promise<void> {
  const [appointed, listed] = await Promise.all([
    identity.GET("/v1/appointments", { params: { query: { scope } } }),
    volunteers.GET("/v1/volunteers", { params: { query: { scope, limit: 200 } } }),
  ]);
  for (const a of appointed.data?.items ?? []) people[a.person_id] = a.name;
  for (const v of listed.data?.items ?? []) people[v.id] = v.name;
}

export function personName(id: string): string {
  return people[id] ?? id;
}

export function volunteerOptions(items: { id: string; name: string }[]) {
  return items.map((v) => ({ value: v.id, label: v.name }));
}

export function unitOptions(units: { path: string; name: string }[]) {
  return units.map((u) => ({ value: u.path, label: u.name }));
}
