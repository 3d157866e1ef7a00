// Chinese first, English on a switch; large-text mode (适老化) on one tap. Both remembered.
import { reactive } from "vue";

export type Lang = "zh" | "en";

export const prefs = reactive({
  lang: (localStorage.getItem("tongxin.lang") as Lang) || "zh",
  large: localStorage.getItem("tongxin.large") === "1",
});

export function setLang(lang: Lang): void {
  prefs.lang = lang;
  localStorage.setItem("tongxin.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

export function toggleLarge(): void {
  prefs.large = !prefs.large;
  localStorage.setItem("tongxin.large", prefs.large ? "1" : "0");
  applyLarge();
}

export function applyLarge(): void {
  document.documentElement.classList.toggle("large-text", prefs.large);
}

const STATUS: Record<string, [string, string]> = {
  pending_review: ["待审核", "Pending review"],
  open: ["待认领", "Open"],
  rejected: ["未通过", "Rejected"],
  claimed: ["已认领", "Claimed"],
  completed: ["待确认", "Awaiting confirmation"],
  confirmed: ["已完成", "Confirmed"],
  cancelled: ["已取消", "Cancelled"],
};

const ROLE: Record<string, [string, string]> = {
  resident: ["居民", "Resident"],
  volunteer: ["志愿者", "Volunteer"],
  team_leader: ["队长", "Team leader"],
  grid_worker: ["网格员", "Grid worker"],
  community_admin: ["社区管理员", "Community admin"],
  street_admin: ["街道管理员", "Street admin"],
  district_admin: ["区管理员", "District admin"],
  operator: ["运营", "Operator"],
};

const SERVICE_TYPE: Record<string, [string, string]> = {
  dispute_mediation: ["矛盾调解", "Dispute mediation"],
  security_patrol: ["治安巡逻", "Security patrol"],
  policy_outreach: ["政策宣传", "Policy outreach"],
  culture_leisure: ["文体娱乐", "Culture and leisure"],
  medical: ["医疗服务", "Medical"],
  legal_aid: ["法律援助", "Legal aid"],
  elderly_care: ["助老服务", "Elderly care"],
};

const ORG_KIND: Record<string, [string, string]> = {
  enterprise: ["企业", "Enterprise"],
  social_organization: ["社会组织", "Social organisation"],
};

const CHANNEL: Record<string, [string, string]> = {
  inapp: ["站内信", "Inbox"],
  sms: ["短信", "SMS"],
  email: ["邮件", "Email"],
  webhook: ["Webhook", "Webhook"],
};

const EVENT: Record<string, [string, string]> = {
  "org.tongxin.need.posted": ["需求发布", "Need posted"],
  "org.tongxin.need.approved": ["审核通过", "Need approved"],
  "org.tongxin.need.rejected": ["审核未通过", "Need rejected"],
  "org.tongxin.need.cancelled": ["需求取消", "Need cancelled"],
  "org.tongxin.project.claimed": ["项目认领", "Project claimed"],
  "org.tongxin.project.completed": ["服务完成", "Project completed"],
  "org.tongxin.project.confirmed": ["居民确认", "Project confirmed"],
};

type Names = "serviceType" | "orgKind" | "channel" | "event";
const TABLES: Record<Names, Record<string, [string, string]>> = {
  serviceType: SERVICE_TYPE,
  orgKind: ORG_KIND,
  channel: CHANNEL,
  event: EVENT,
};

/** The name of a code of one of the tables above (the code itself if it has none). */
export function named(table: Names, code: string): string {
  const pair = TABLES[table][code];
  return pair ? pair[prefs.lang === "zh" ? 0 : 1] : code;
}

/** The codes of a table with their names, for a picker. */
export function options(table: Names): { value: string; label: string }[] {
  return Object.keys(TABLES[table]).map((value) => ({ value, label: named(table, value) }));
}

const L = (zh: string, en: string): [string, string] => [zh, en];

export const TEXT = {
  app: L("同心·社区服务", "Tongxin community services"),
  console: L("同心·社区工作台", "Tongxin committee console"),
  phone: L("手机号", "Phone number"),
  code: L("验证码", "SMS code"),
  sendCode: L("获取验证码", "Send code"),
  signIn: L("登录", "Sign in"),
  signOut: L("退出登录", "Sign out"),
  community: L("我的社区", "My community"),
  searchCommunity: L("输入社区名称搜索", "Search a community by name"),
  switchRole: L("切换身份", "Switch role"),
  home: L("首页", "Home"),
  inbox: L("消息", "Inbox"),
  me: L("我的", "Me"),
  postWish: L("发布心愿", "Post a wish"),
  myNeeds: L("我的心愿", "My wishes"),
  title: L("标题", "Title"),
  category: L("服务类别", "Category"),
  chooseCategory: L("请选择类别", "Choose a category"),
  description: L("描述", "Description"),
  dueDate: L("期望完成日期（可选）", "Due date (optional)"),
  submit: L("提交", "Submit"),
  posted: L("已提交，等待社区审核", "Posted: waiting for review"),
  projects: L("待认领项目", "Open projects"),
  allCategories: L("全部类别", "All categories"),
  claim: L("认领", "Claim"),
  claimed: L("认领成功", "Claimed"),
  myClaims: L("我的认领", "My claims"),
  complete: L("记录完成", "Record completion"),
  hours: L("服务时长（小时）", "Hours"),
  confirm: L("确认完成并评价", "Confirm and rate"),
  rating: L("评分", "Rating"),
  comment: L("评价（可选）", "Comment (optional)"),
  passbook: L("爱心存折", "Love passbook"),
  balance: L("积分", "Points"),
  totalHours: L("累计时长", "Total hours"),
  stars: L("星级", "Stars"),
  history: L("处理记录", "History"),
  nothing: L("暂无内容", "Nothing yet"),
  large: L("大字模式", "Large text"),
  language: L("English", "中文"),
  onBehalf: L("代居民发布", "Post for a resident"),
  residentName: L("居民姓名", "Resident's name"),
  residentPhone: L("居民手机号", "Resident's phone"),
  forTeam: L("为服务队认领", "Claim for the team"),
  live: L("实时", "Live"),
  save: L("保存", "Save"),
  required: L("请填写", "Required"),
  photo: L("照片（可选）", "Photo (optional)"),
  addPhoto: L("添加照片", "Add a photo"),
  removePhoto: L("删除照片", "Remove the photo"),
  photoAlt: L("心愿照片", "Photo of the wish"),
  chooseMembers: L("选择参加的队员", "Choose the members who go"),
  members: L("队员", "Members"),
  team: L("服务队", "Team"),
};

export function t(key: keyof typeof TEXT): string {
  return TEXT[key][prefs.lang === "zh" ? 0 : 1];
}

export function statusName(status: string): string {
  const pair = STATUS[status];
  return pair ? pair[prefs.lang === "zh" ? 0 : 1] : status;
}

export function roleName(role: string): string {
  const pair = ROLE[role];
  return pair ? pair[prefs.lang === "zh" ? 0 : 1] : role;
}
