import { describe, expect, it } from "vitest";
import { decodeClaims } from "@/api/session";
import { errorMessage } from "@/api/client";
import { parseSse } from "@/common/sse";
import { errorCsv } from "@/console/importReport";
import { named, options, prefs, roleName, statusName } from "@/common/i18n";
import { fitWithin } from "@/common/image";
import { dueAt, hasClaimed, myActiveClaim, type Need } from "@/h5/needs";

function jwt(payload: object): string {
  const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s))).replace(/=+$/, "");
  return `${b64('{"alg":"EdDSA"}')}.${b64(JSON.stringify(payload)).replace(/\+/g, "-").replace(/\//g, "_")}.sig`;
}

describe("session", () => {
  it("reads role, scope and sub from a token, Chinese scopes included", () => {
    const c = decodeClaims(jwt({ sub: "p1", role: "resident", scope: "中山.东街", exp: 5 }));
    expect(c).toEqual({ sub: "p1", role: "resident", scope: "中山.东街", exp: 5 });
  });
  it("refuses a token without a subject or that is not a JWT", () => {
    expect(decodeClaims(jwt({ sub: "", role: "resident", scope: "a" }))).toBeNull();
    expect(decodeClaims("garbage")).toBeNull();
  });
});

describe("server-sent events", () => {
  it("parses events split across chunks and skips comments", () => {
    const first = parseSse('retry: 3000\n: connected\n\nid: 7\nevent: notification\ndata: {"a":');
    expect(first.events).toEqual([]);
    const second = parseSse(first.rest + '1}\n\n: heartbeat\n\n');
    expect(second.events).toEqual([{ id: "7", event: "notification", data: '{"a":1}' }]);
    expect(second.rest).toBe("");
  });
});

describe("import report", () => {
  it("writes only the error rows, with Chinese field names, quoted where needed", () => {
    const csv = errorCsv([
      { row: 2, status: "created" },
      { row: 3, status: "error", field: "home_community_id", reason: '社区名称"和平社区"不唯一, 请填写编码' },
    ]);
    expect(csv.startsWith("\ufeff行号,字段,原因\r\n")).toBe(true);
    expect(csv).toContain('3,所在社区,"社区名称""和平社区""不唯一, 请填写编码"');
    expect(csv).not.toContain("\r\n2,");
  });
});

describe("names", () => {
  it("shows statuses and roles in Chinese first, English on the switch", () => {
    prefs.lang = "zh";
    expect(statusName("pending_review")).toBe("待审核");
    expect(roleName("grid_worker")).toBe("网格员");
    prefs.lang = "en";
    expect(statusName("open")).toBe("Open");
    prefs.lang = "zh";
  });
  it("shows the API's own error message, or a fallback", () => {
    expect(errorMessage({ error: { code: "conflict", message: "该需求已有人认领" } })).toBe("该需求已有人认领");
    expect(errorMessage(undefined)).toContain("操作失败");
  });
});

describe("needs", () => {
  const need = {
    claims: [
      { id: "c1", status: "released", volunteer_ids: ["v1"], claimed_by: "v1" },
      { id: "c2", status: "active", volunteer_ids: ["v2"], claimed_by: "leader" },
    ],
  } as unknown as Need;
  it("finds the caller's active claim, by volunteer or by claimer", () => {
    expect(myActiveClaim(need, "v1")).toBeUndefined();
    expect(myActiveClaim(need, "v2")?.id).toBe("c2");
    expect(myActiveClaim(need, "leader")?.id).toBe("c2");
    expect(hasClaimed(need, "v1")).toBe(true);
  });
  it("takes a picked due date as the end of that day in China", () => {
    expect(dueAt(["2026", "12", "24"])).toBe("2026-12-24T23:59:59+08:00");
    expect(dueAt([])).toBeUndefined();
  });
});

describe("photos", () => {
  it("scales a picture to 1600 px on its longer side, never enlarging", () => {
    expect(fitWithin(4000, 3000)).toEqual({ width: 1600, height: 1200 });
    expect(fitWithin(1200, 2400)).toEqual({ width: 800, height: 1600 });
    expect(fitWithin(640, 480)).toEqual({ width: 640, height: 480 });
  });
});

describe("codes by name", () => {
  it("names team services, organisation kinds, channels and events; unknown codes as they are", () => {
    prefs.lang = "zh";
    expect(named("serviceType", "elderly_care")).toBe("助老服务");
    expect(named("orgKind", "social_organization")).toBe("社会组织");
    expect(named("event", "org.tongxin.project.claimed")).toBe("项目认领");
    expect(named("channel", "carrier-pigeon")).toBe("carrier-pigeon");
    expect(options("serviceType")).toHaveLength(7);
    prefs.lang = "en";
    expect(named("channel", "inapp")).toBe("Inbox");
    prefs.lang = "zh";
  });
});
