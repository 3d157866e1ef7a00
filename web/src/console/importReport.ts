// The rows of a volunteers import that failed, as a CSV people open in Excel (UTF-8 with BOM).
export interface ReportRow {
  row: number;
  status: string;
  field?: string | null;
  reason?: string | null;
}

const FIELD: Record<string, string> = {
  name: "姓名",
  phone: "手机号",
  home_community_id: "所在社区",
  party_org: "党组织",
  skills: "技能",
  pledge_signed: "已签承诺书",
};

function cell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function errorCsv(rows: ReportRow[]): string {
  const lines = ["行号,字段,原因"];
  for (const r of rows.filter((x) => x.status === "error")) {
    lines.push([String(r.row), FIELD[r.field ?? ""] ?? r.field ?? "", r.reason ?? ""].map(cell).join(","));
  }
  return "\ufeff" + lines.join("\r\n") + "\r\n";
}

export function fieldName(field: string | null | undefined): string {
  return field ? (FIELD[field] ?? field) : "";
}
